package mqttsync

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/store"
	"github.com/intercomd/intercomd/sync/wire"
)

// Store is what the client needs of the device's store; *store.DB
// implements it. Its methods are safe for concurrent use.
type Store interface {
	Revision() (uint64, error)
	Apply(b store.Batch) (store.Result, error)
	StageSnapshot(id string, seq int, items []store.Upsert) error
	AbortSnapshot(id string) error
	CommitSnapshot(id string, rev uint64, chunks int) (store.Result, error)
	PeekAfter(seq uint64, n int) ([]store.Entry, error)
	Ack(seqs ...uint64) error
	Quarantine(seq uint64, why string) error
	Append(ctx context.Context, events ...access.Event) error
	ObserveServerTime(t time.Time) (bool, error)
	NewestServerTime() (time.Time, error)
	Stats() (store.Stats, error)
}

var _ Store = (*store.DB)(nil)

// Handler carries out what arrives over MQTT. The daemon implements it; its
// methods may be called concurrently with each other and with the daemon's
// other inputs, and must return promptly (they are bounded by ctx).
type Handler interface {
	// Decide decides a credential from MQTT (a web unlock, a plate or a face
	// read) exactly like one from a local reader, including committing its
	// events and opening the door on a grant, and returns the decision.
	Decide(ctx context.Context, c access.Credential) access.Decision
	// RemoteUnlock opens the door on the cloud's order, audited.
	RemoteUnlock(ctx context.Context, operator string) error
	// Lockdown turns lockdown on or off.
	Lockdown(ctx context.Context, on bool) error
	// ApplyConfig applies and persists a configuration change.
	ApplyConfig(ctx context.Context, change wire.ConfigChange) error
	// Health reports what the status heartbeat carries besides the store's
	// counters. It must not block.
	Health() Health
}

// Health is the daemon's part of the status message.
type Health struct {
	ClockTrusted bool
	ClockWhy     string
	Lockdown     bool
	Readers      map[string]string // reader id → "ok", "offline", "error: ..."
	Version      string
}

// Options configure a Client. Zero values mean the documented defaults.
type Options struct {
	Device string // device id, also the MQTT client id (required)
	Broker string // e.g. "ssl://broker:8883" or "tcp://127.0.0.1:1883" (required)
	// TLS, if set, is used for ssl:// brokers. Use TLSFiles to reload a
	// rotated client certificate on every reconnect.
	TLS                *tls.Config
	Username, Password string

	Store   Store   // required
	Handler Handler // required for commands and reads; nil refuses them
	// Events receives the client's own events (input.rejected, sync.error,
	// command.result). Default: Store.Append.
	Events func(ctx context.Context, events ...access.Event) error
	Logger *slog.Logger // default: discard
	Now    func() time.Time

	KeepAlive      time.Duration // default 30 s
	ConnectTimeout time.Duration // default 10 s
	WriteTimeout   time.Duration // default 5 s
	MinBackoff     time.Duration // first reconnect wait, default 1 s
	MaxBackoff     time.Duration // default 30 s
	GapWait        time.Duration // how long a revision gap may stay open before a snapshot; default 2 s
	ChunkTimeout   time.Duration // how long a snapshot may go without a chunk; default 10 s
	Heartbeat      time.Duration // status interval, default 60 s
	OutboxPoll     time.Duration // outbox poll when idle (Kick wakes it at once); default 200 ms
	ServerTimeStep time.Duration // server time is written to the store when it advanced this much; default 10 s

	BatchEvents int // events per message, default 256 (and always within wire.MaxPayload)
	InFlight    int // event messages awaiting PUBACK, default 32

	MaxReadAge    time.Duration // plate/face reads older than this are refused; default 30 s
	MinConfidence float64       // plate confidence / face score below this is ignored; default 0.5

	// ReplayFile persists the command replay horizon. Empty keeps it in
	// memory only, which a restart forgets: the daemon should set it.
	ReplayFile string

	// Applied, if set, is called after each delta or snapshot commit with
	// the new revision (for metrics and benchmarks). It must not block.
	Applied func(rev uint64)
}

func (o *Options) defaults() error {
	if err := wire.ValidDevice(o.Device); err != nil {
		return fmt.Errorf("mqttsync: device: %w", err)
	}
	if o.Broker == "" || o.Store == nil {
		return errors.New("mqttsync: Broker and Store are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Events == nil {
		o.Events = o.Store.Append
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.KeepAlive, 30*time.Second)
	def(&o.ConnectTimeout, 10*time.Second)
	def(&o.WriteTimeout, 5*time.Second)
	def(&o.MinBackoff, time.Second)
	def(&o.MaxBackoff, 30*time.Second)
	def(&o.GapWait, 2*time.Second)
	def(&o.ChunkTimeout, 10*time.Second)
	def(&o.Heartbeat, time.Minute)
	def(&o.OutboxPoll, 200*time.Millisecond)
	def(&o.ServerTimeStep, 10*time.Second)
	def(&o.MaxReadAge, 30*time.Second)
	if o.BatchEvents <= 0 {
		o.BatchEvents = 256
	}
	if o.InFlight <= 0 {
		o.InFlight = 32
	}
	if o.MinConfidence == 0 {
		o.MinConfidence = 0.5
	}
	return nil
}

// TLSFiles returns a TLS config that trusts caFile and presents the client
// certificate in certFile/keyFile, read again at every handshake so that a
// rotated certificate is picked up on the next reconnect.
func TLSFiles(caFile, certFile, keyFile string) (*tls.Config, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("mqttsync: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("mqttsync: %s holds no PEM certificate", caFile)
	}
	if _, err := tls.LoadX509KeyPair(certFile, keyFile); err != nil {
		return nil, fmt.Errorf("mqttsync: client certificate: %w", err)
	}
	return &tls.Config{
		RootCAs:    pool,
		MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("mqttsync: client certificate: %w", err)
			}
			return &c, nil
		},
	}, nil
}
