package localapi

import (
	"context"
	"errors"
	"log/slog"

	"github.com/intercomd/intercomd/access"
)

// Backend is the daemon as the debug socket sees it. cmd/intercomd implements
// it with the real parts. Every method may be called concurrently from
// several connections, must honour ctx, and must not block for long: the
// socket's write timeout cuts off slow calls. Errors are shown to the
// technician verbatim, so they must not carry secrets; wrap ErrNotFound,
// ErrNotSim, ErrUnavailable or access.ErrInvalid to pick the HTTP status.
type Backend interface {
	// Status reports the daemon's health.
	Status(ctx context.Context) (Status, error)
	// Keys lists cached visits, without secrets. With f.ID set it returns
	// that one visit, or ErrNotFound.
	Keys(ctx context.Context, f KeyFilter) ([]Key, error)
	// Events returns up to n recent events, oldest first. With follow, it
	// also returns a channel of live events; the backend stops sending (and
	// may close it) once ctx is done, and must never block on a slow
	// subscriber for long (drop instead).
	Events(ctx context.Context, n int, follow bool) (recent []access.Event, live <-chan access.Event, err error)
	// Explain is a dry-run decision (engine Explain): it never unlocks,
	// commits nothing and changes no lockout state. c.Value is a secret.
	// c.Reader may be empty: the backend then picks the reader the
	// credential kind usually comes from.
	Explain(ctx context.Context, c access.Credential) (access.Decision, error)
	// Relay drives the door relay. For pulse, d is the unlock time (zero
	// means the configured default).
	Relay(ctx context.Context, a RelayAction, d Duration) error
	// WiegandLast returns the n most recent raw frames, newest last.
	WiegandLast(ctx context.Context, n int) ([]WiegandFrame, error)
	// KeypadStats reports each keypad's serial link.
	KeypadStats(ctx context.Context) ([]KeypadStats, error)
	// CameraSnapshot returns a JPEG of the current frame, with any detected
	// QR code outlined, or ErrUnavailable without a camera.
	CameraSnapshot(ctx context.Context) ([]byte, error)
	// Resync asks the cloud for a full snapshot.
	Resync(ctx context.Context) error
	// SetLogLevel changes the daemon's log level at once.
	SetLogLevel(ctx context.Context, l slog.Level) error
	// SetLockdown turns lockdown on or off.
	SetLockdown(ctx context.Context, on bool) error
	// Sim injects a simulated input through the real reader path. It returns
	// ErrNotSim unless the daemon runs in simulation mode.
	Sim(ctx context.Context, r SimRequest) error
}

// Sentinel errors. A Backend wraps them to choose the status a technician
// sees; the Client returns errors that match them with errors.Is.
var (
	// ErrNotFound: no such key (404).
	ErrNotFound = errors.New("localapi: not found")
	// ErrNotSim: a sim input outside simulation mode (409).
	ErrNotSim = errors.New("localapi: not in simulation mode")
	// ErrUnavailable: the part is absent or offline, e.g. no camera (503).
	ErrUnavailable = errors.New("localapi: unavailable")
	// ErrBadRequest: the request was malformed (400).
	ErrBadRequest = errors.New("localapi: bad request")
	// ErrPermission: the peer is not root or in the socket's group (403).
	ErrPermission = errors.New("localapi: permission denied")
	// ErrTooLarge: the request body exceeded the limit (413).
	ErrTooLarge = errors.New("localapi: request too large")
	// ErrRateLimited: too many explain calls (429).
	ErrRateLimited = errors.New("localapi: rate limited")
	// ErrRunning: Listen found another live server on the socket.
	ErrRunning = errors.New("localapi: already running")
	// ErrAudit: the audit event of a control call could not be recorded, so
	// the call was refused (503).
	ErrAudit = errors.New("localapi: audit failed")
)
