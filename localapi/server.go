package localapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/intercomd/intercomd/access"
)

// DefaultPath is where intercomd listens and intercomctl connects by default.
const DefaultPath = "/run/intercomd/intercomd.sock"

// Defaults for the Server's zero-valued limits.
const (
	DefaultMaxBody      = 64 << 10
	DefaultReadTimeout  = 5 * time.Second
	DefaultWriteTimeout = 30 * time.Second
	DefaultIdleTimeout  = 60 * time.Second
	DefaultMaxConns     = 16
	DefaultHeartbeat    = 15 * time.Second
	DefaultEvents       = 20
	DefaultExplainRate  = 30 // per minute
	MaxEvents           = 1000
)

// AuditReader is the Reader field of the debug socket's audit events.
const AuditReader = "debug-socket"

// Server serves the local API. Set the fields, then call Listen and Serve.
// Zero values mean the documented defaults.
type Server struct {
	Path    string // socket path, default DefaultPath
	Group   int    // gid allowed besides root and the daemon's uid; < 0: none
	Backend Backend
	Logger  *slog.Logger // nil: discard
	// Audit records a control call's event durably (cmd/intercomd appends it
	// to the outbox). It runs before the action, and an error refuses the
	// call. Nil means audit events are only logged.
	Audit func(ctx context.Context, ev access.Event) error

	MaxBody      int64         // request body cap for all but sim images, default 64 KiB
	ReadTimeout  time.Duration // for headers and body, default 5 s (slowloris)
	WriteTimeout time.Duration // per response (per line when streaming), default 30 s
	IdleTimeout  time.Duration // keep-alive, default 60 s
	MaxConns     int           // concurrent connections, default 16
	Heartbeat    time.Duration // blank line on an idle event stream, default 15 s
	ProcRoot     string        // default /proc, for supplementary groups
	// ExplainPerMinute caps explain calls (default 30): explain tests a
	// secret against the cache without the keypad's brute-force lockout,
	// so it must not become a faster way to guess PINs.
	ExplainPerMinute int

	// allow overrides the peer policy in tests.
	allow func(Peer) (bool, string)

	requests, denied, tooLarge, badRequests, audited, auditFailed, limited atomic.Uint64

	mu          sync.Mutex
	lastDenials map[uint32]time.Time // rate limit for denial events, by uid
	explains    []time.Time          // explain calls in the last minute
}

// Stats counts what the server has seen, for metrics.
type Stats struct {
	Requests    uint64 // requests from any peer
	Denied      uint64 // 403: peer not allowed
	TooLarge    uint64 // 413
	BadRequests uint64 // 400
	Audited     uint64 // control calls audited
	AuditFailed uint64 // control calls refused because the audit failed
	RateLimited uint64 // 429: explain calls over ExplainPerMinute
}

// Stats returns the server's counters. It is safe for concurrent use.
func (s *Server) Stats() Stats {
	return Stats{
		Requests: s.requests.Load(), Denied: s.denied.Load(), TooLarge: s.tooLarge.Load(),
		BadRequests: s.badRequests.Load(), Audited: s.audited.Load(), AuditFailed: s.auditFailed.Load(),
		RateLimited: s.limited.Load(),
	}
}

// LookupGroup resolves a group name or numeric gid.
func LookupGroup(nameOrGID string) (int, error) {
	if g, err := strconv.Atoi(nameOrGID); err == nil && g >= 0 {
		return g, nil
	}
	gr, err := user.LookupGroup(nameOrGID)
	if err != nil {
		return 0, fmt.Errorf("localapi: group %q: %w", nameOrGID, err)
	}
	g, err := strconv.Atoi(gr.Gid)
	if err != nil {
		return 0, fmt.Errorf("localapi: group %q: gid %q: %w", nameOrGID, gr.Gid, err)
	}
	return g, nil
}

// Listen creates the socket at path, mode 0660 with group gid (gid < 0
// leaves the group alone). A live server at path is ErrRunning; a stale
// socket (connection refused) is removed; anything that is not a socket is
// left alone and reported. The directory is created 0755 if missing.
func Listen(path string, gid int) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("localapi: listen %s: %w", path, err)
	}
	if err := clearStale(path); err != nil {
		return nil, err
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("localapi: listen %s: %w", path, err)
	}
	// Until the chmod, the socket has the umask's mode; peer credentials are
	// checked on every request, so that window grants nothing.
	if err := os.Chmod(path, 0o660); err != nil {
		ln.Close()
		return nil, fmt.Errorf("localapi: listen %s: %w", path, err)
	}
	if gid >= 0 {
		if err := os.Chown(path, -1, gid); err != nil {
			ln.Close()
			return nil, fmt.Errorf("localapi: listen %s: set group %d: %w", path, gid, err)
		}
	}
	return ln, nil
}

func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("localapi: listen %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("localapi: listen %s: exists and is not a socket (%v); refusing to remove it", path, fi.Mode().Type())
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("localapi: listen %s: %w", path, ErrRunning)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("localapi: listen %s: probe: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("localapi: listen %s: remove stale socket: %w", path, err)
	}
	return nil
}

// Listen is Listen(s.Path, s.Group).
func (s *Server) Listen() (net.Listener, error) { return Listen(s.path(), s.Group) }

func (s *Server) path() string {
	if s.Path == "" {
		return DefaultPath
	}
	return s.Path
}

func orDur(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

func (s *Server) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

type ctxKey struct{}

// Serve answers requests on ln until ctx is cancelled, then returns nil. It
// closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.Backend == nil {
		ln.Close()
		return errors.New("localapi: serve: no backend")
	}
	max := s.MaxConns
	if max <= 0 {
		max = DefaultMaxConns
	}
	pl := newPeerListener(ln, max)
	rt := orDur(s.ReadTimeout, DefaultReadTimeout)
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: rt,
		ReadTimeout:       rt,
		IdleTimeout:       orDur(s.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    16 << 10,
		BaseContext:       func(net.Listener) context.Context { return ctx },
		ConnContext: func(c context.Context, conn net.Conn) context.Context {
			if pc, ok := conn.(*peerConn); ok {
				return context.WithValue(c, ctxKey{}, pc)
			}
			return c
		},
		ErrorLog: slog.NewLogLogger(s.log().Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(done)
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := hs.Shutdown(sctx); err != nil {
			hs.Close()
		}
	})
	err := hs.Serve(pl)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	if stop() {
		hs.Close()
	}
	return fmt.Errorf("localapi: serve: %w", err)
}

// Handler returns the API's handler. Requests must carry a peer from Serve's
// listener; anything else is refused.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathStatus, s.handleStatus)
	mux.HandleFunc("GET "+PathKeys, s.handleKeys)
	mux.HandleFunc("GET "+PathKeys+"/{id}", s.handleKey)
	mux.HandleFunc("GET "+PathEvents, s.handleEvents)
	mux.HandleFunc("POST "+PathExplain, s.handleExplain)
	mux.HandleFunc("POST "+PathRelay, s.handleRelay)
	mux.HandleFunc("GET "+PathWiegand, s.handleWiegand)
	mux.HandleFunc("GET "+PathKeypad, s.handleKeypad)
	mux.HandleFunc("GET "+PathSnapshot, s.handleSnapshot)
	mux.HandleFunc("POST "+PathResync, s.handleResync)
	mux.HandleFunc("POST "+PathLogLevel, s.handleLogLevel)
	mux.HandleFunc("POST "+PathLockdown, s.handleLockdown)
	mux.HandleFunc("POST "+PathSim, s.handleSim)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		pc, _ := r.Context().Value(ctxKey{}).(*peerConn)
		if ok, why := s.authorize(pc); !ok {
			s.deny(r, pc, why)
			writeError(w, http.StatusForbidden, fmt.Errorf("%w: must be root or in the socket's group", ErrPermission))
			return
		}
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(orDur(s.WriteTimeout, DefaultWriteTimeout)))
		s.log().Debug("localapi: request", "method", r.Method, "path", r.URL.Path, "uid", pc.peer.UID, "pid", pc.peer.PID)
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) authorize(pc *peerConn) (bool, string) {
	if pc == nil {
		return false, "no peer credentials"
	}
	if pc.peerErr != nil {
		return false, pc.peerErr.Error()
	}
	if s.allow != nil {
		return s.allow(pc.peer)
	}
	pr := s.ProcRoot
	if pr == "" {
		pr = "/proc"
	}
	return policy{self: uint32(os.Geteuid()), group: s.Group, groupsOf: procGroups(pr)}.allow(pc.peer)
}

// denialEvery limits denial events to one per uid per interval, so that a
// refused client cannot flood the outbox and push out real events.
const denialEvery = time.Minute

func (s *Server) deny(r *http.Request, pc *peerConn, why string) {
	s.denied.Add(1)
	var p Peer
	if pc != nil {
		p = pc.peer
	}
	s.log().Warn("localapi: peer refused", "uid", p.UID, "gid", p.GID, "pid", p.PID, "why", why, "method", r.Method, "path", r.URL.Path)
	now := time.Now()
	s.mu.Lock()
	if s.lastDenials == nil || len(s.lastDenials) > 256 {
		s.lastDenials = map[uint32]time.Time{}
	}
	last, seen := s.lastDenials[p.UID]
	emit := !seen || now.Sub(last) >= denialEvery
	if emit {
		s.lastDenials[p.UID] = now
	}
	s.mu.Unlock()
	if emit && s.Audit != nil {
		ev := access.Event{ID: access.NewEventID(), Type: access.EventAudit, At: now, Reader: AuditReader,
			Detail: fmt.Sprintf("denied %s %s pid=%d", clip(r.Method), clip(r.URL.EscapedPath()), p.PID)}
		if pc != nil && pc.peerErr == nil {
			uid := int(p.UID)
			ev.UID = &uid
		} else {
			ev.Detail = fmt.Sprintf("denied %s %s: %s", clip(r.Method), clip(r.URL.EscapedPath()), why) // no credentials: no uid to blame
		}
		if err := s.Audit(r.Context(), ev); err != nil {
			s.log().Warn("localapi: audit denial", "err", err)
		}
	}
}

// audit records a control call before it runs. It writes the error response
// and returns false if the call must not run.
func (s *Server) audit(w http.ResponseWriter, r *http.Request, detail string) bool {
	pc, _ := r.Context().Value(ctxKey{}).(*peerConn)
	uid := int(pc.peer.UID)
	ev := access.Event{ID: access.NewEventID(), Type: access.EventAudit, At: time.Now(), Reader: AuditReader, UID: &uid,
		Detail: fmt.Sprintf("%s pid=%d", detail, pc.peer.PID)}
	s.log().Info("localapi: control", "action", detail, "uid", uid, "pid", pc.peer.PID)
	if s.Audit != nil {
		if err := s.Audit(r.Context(), ev); err != nil {
			s.auditFailed.Add(1)
			writeError(w, http.StatusServiceUnavailable, fmt.Errorf("%w: %w", ErrAudit, err))
			return false
		}
	}
	s.audited.Add(1)
	return true
}

// body reads the request body up to limit bytes.
func (s *Server) body(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	if r.ContentLength > limit {
		s.tooLarge.Add(1)
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, limit))
		return nil, false
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			s.tooLarge.Add(1)
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, limit))
			return nil, false
		}
		s.badRequests.Add(1)
		writeError(w, http.StatusBadRequest, fmt.Errorf("%w: read body: %w", ErrBadRequest, err))
		return nil, false
	}
	return b, true
}

func (s *Server) maxBody() int64 {
	if s.MaxBody <= 0 {
		return DefaultMaxBody
	}
	return s.MaxBody
}

// decoded reads and decodes a request body with dec.
func decoded[T any](s *Server, w http.ResponseWriter, r *http.Request, limit int64, dec func([]byte) (T, error)) (T, bool) {
	var zero T
	b, ok := s.body(w, r, limit)
	if !ok {
		return zero, false
	}
	v, err := dec(b)
	if err != nil {
		s.badRequests.Add(1)
		writeError(w, http.StatusBadRequest, err)
		return zero, false
	}
	return v, true
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrNotSim):
		return http.StatusConflict
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable
	case errors.Is(err, ErrBadRequest), errors.Is(err, access.ErrInvalid):
		return http.StatusBadRequest
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, Error{Error: err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// reply writes v, or the backend's error with its status.
func reply[T any](w http.ResponseWriter, v T, err error) {
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// done answers a control call that returns nothing.
func done(w http.ResponseWriter, err error) {
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) badQuery(w http.ResponseWriter, err error) {
	s.badRequests.Add(1)
	writeError(w, http.StatusBadRequest, err)
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.Backend.Status(r.Context())
	reply(w, st, err)
}

func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	f, err := DecodeKeyFilter(r.URL.Query())
	if err != nil {
		s.badQuery(w, err)
		return
	}
	keys, err := s.Backend.Keys(r.Context(), f)
	if len(keys) > f.Limit {
		keys = keys[:f.Limit]
	}
	reply(w, nonNil(keys), err)
}

func (s *Server) handleKey(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := checkName("id", id, 128); err != nil || id == "" {
		s.badQuery(w, fmt.Errorf("%w: bad key id", ErrBadRequest))
		return
	}
	keys, err := s.Backend.Keys(r.Context(), KeyFilter{ID: id, Limit: 1, Deleted: true})
	if err == nil && (len(keys) == 0 || keys[0].ID != id) {
		err = fmt.Errorf("%w: key %s", ErrNotFound, id)
	}
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	writeJSON(w, http.StatusOK, keys[0])
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// handleEvents streams NDJSON: the recent events, then, with follow=1, live
// events and a blank heartbeat line when idle.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	n, err := ParseCount(q, "n", DefaultEvents, MaxEvents)
	if err != nil {
		s.badQuery(w, err)
		return
	}
	follow, err := ParseBool(q, "follow")
	if err != nil {
		s.badQuery(w, err)
		return
	}
	ctx := r.Context()
	recent, live, err := s.Backend.Events(ctx, n, follow)
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	if len(recent) > n {
		recent = recent[len(recent)-n:]
	}
	rc := http.NewResponseController(w)
	wt := orDur(s.WriteTimeout, DefaultWriteTimeout)
	if follow {
		// The stream outlives ReadTimeout: lift the read deadline, or the
		// server's background read would time out and cancel ctx.
		_ = rc.SetReadDeadline(time.Time{})
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	send := func(ev *access.Event) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(wt))
		var err error
		if ev == nil {
			_, err = io.WriteString(w, "\n")
		} else {
			err = enc.Encode(ev)
		}
		if err == nil {
			err = rc.Flush()
		}
		return err == nil
	}
	for i := range recent {
		if !send(&recent[i]) {
			return
		}
	}
	if !follow || live == nil {
		_ = rc.Flush()
		return
	}
	tick := time.NewTicker(orDur(s.Heartbeat, DefaultHeartbeat))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case ev, ok := <-live:
			if !ok || !send(&ev) {
				return
			}
		case <-tick.C:
			if !send(nil) {
				return
			}
		}
	}
}

func (s *Server) handleExplain(w http.ResponseWriter, r *http.Request) {
	req, ok := decoded(s, w, r, s.maxBody(), DecodeExplain)
	if !ok {
		return
	}
	if !s.explainAllowed() {
		s.limited.Add(1)
		writeError(w, http.StatusTooManyRequests, fmt.Errorf("%w: explain is limited to %d calls a minute", ErrRateLimited, s.explainRate()))
		return
	}
	// Explain is a read, but it tests a secret against the cache without
	// the keypad's brute-force limit, so every use is on the record.
	if !s.audit(w, r, fmt.Sprintf("explain kind=%v reader=%s", req.Kind, req.Reader)) {
		return
	}
	d, err := s.Backend.Explain(r.Context(), access.Credential{Kind: req.Kind, Value: req.Value, Reader: req.Reader, At: time.Now(), VisitID: req.VisitID})
	reply(w, ExplanationOf(d), err)
}

func (s *Server) explainRate() int {
	if s.ExplainPerMinute <= 0 {
		return DefaultExplainRate
	}
	return s.ExplainPerMinute
}

// explainAllowed records an explain call if fewer than explainRate ran in
// the last minute.
func (s *Server) explainAllowed() bool {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	keep := s.explains[:0]
	for _, t := range s.explains {
		if now.Sub(t) < time.Minute {
			keep = append(keep, t)
		}
	}
	s.explains = keep
	if len(s.explains) >= s.explainRate() {
		return false
	}
	s.explains = append(s.explains, now)
	return true
}

func (s *Server) handleRelay(w http.ResponseWriter, r *http.Request) {
	req, ok := decoded(s, w, r, s.maxBody(), DecodeRelay)
	if !ok {
		return
	}
	detail := "relay " + req.Action.String()
	if req.For != 0 {
		detail += " " + time.Duration(req.For).String()
	}
	if !s.audit(w, r, detail) {
		return
	}
	done(w, s.Backend.Relay(r.Context(), req.Action, req.For))
}

func (s *Server) handleWiegand(w http.ResponseWriter, r *http.Request) {
	n, err := ParseCount(r.URL.Query(), "n", DefaultWiegandFrames, MaxWiegandFrames)
	if err != nil {
		s.badQuery(w, err)
		return
	}
	frames, err := s.Backend.WiegandLast(r.Context(), n)
	if len(frames) > n {
		frames = frames[len(frames)-n:]
	}
	reply(w, nonNil(frames), err)
}

func (s *Server) handleKeypad(w http.ResponseWriter, r *http.Request) {
	st, err := s.Backend.KeypadStats(r.Context())
	reply(w, nonNil(st), err)
}

func (s *Server) handleSnapshot(w http.ResponseWriter, r *http.Request) {
	// A picture of whoever stands at the door: audited like a control call.
	if !s.audit(w, r, "camera snapshot") {
		return
	}
	jpg, err := s.Backend.CameraSnapshot(r.Context())
	if err != nil {
		writeError(w, statusOf(err), err)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Content-Length", strconv.Itoa(len(jpg)))
	_, _ = w.Write(jpg)
}

func (s *Server) handleResync(w http.ResponseWriter, r *http.Request) {
	if _, ok := s.body(w, r, s.maxBody()); !ok || !s.audit(w, r, "resync") {
		return
	}
	done(w, s.Backend.Resync(r.Context()))
}

func (s *Server) handleLogLevel(w http.ResponseWriter, r *http.Request) {
	l, ok := decoded(s, w, r, s.maxBody(), DecodeLogLevel)
	if !ok || !s.audit(w, r, "log-level "+l.String()) {
		return
	}
	done(w, s.Backend.SetLogLevel(r.Context(), l))
}

func (s *Server) handleLockdown(w http.ResponseWriter, r *http.Request) {
	on, ok := decoded(s, w, r, s.maxBody(), DecodeLockdown)
	if !ok {
		return
	}
	if !s.audit(w, r, map[bool]string{true: "lockdown on", false: "lockdown off"}[on]) {
		return
	}
	done(w, s.Backend.SetLockdown(r.Context(), on))
}

func (s *Server) handleSim(w http.ResponseWriter, r *http.Request) {
	// Room for a base64 image; everything else is checked by DecodeSim.
	req, ok := decoded(s, w, r, maxSimImage/3*4+s.maxBody(), DecodeSim)
	if !ok {
		return
	}
	detail := "sim " + req.Kind.String() // never the card, PIN or QR itself
	switch req.Kind {
	case SimCard:
		detail += " format=" + req.Format
	case SimDoor:
		detail += " " + req.Door
	case SimQR:
		if len(req.Image) > 0 {
			detail += " image"
		}
	}
	if !s.audit(w, r, detail) {
		return
	}
	done(w, s.Backend.Sim(r.Context(), req))
}
