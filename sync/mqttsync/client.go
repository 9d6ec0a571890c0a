package mqttsync

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/sync/wire"
)

// ErrNotConnected is returned by publishes while there is no connection.
var ErrNotConnected = errors.New("mqttsync: not connected")

// Client syncs one device. Create it with New and run it with Run.
type Client struct {
	opt    Options
	log    *slog.Logger
	stats  stats
	replay *replayGuard

	keysIn   chan inbound // deltas, heads, snapshot chunks
	actIn    chan inbound // commands, plate and face reads
	resyncIn chan wire.SnapshotReason
	kick     chan struct{}
	loopsEnd <-chan struct{} // closed when Run's loops stop; set by Run

	mu   sync.Mutex
	conn mqtt.Client // nil while disconnected

	newestServer atomic.Int64 // UnixNano of the newest server time seen
	persisted    atomic.Int64 // UnixNano of the newest server time written to the store
}

type inbound struct {
	topic   wire.Topic
	payload []byte
	// For key messages, route decodes on paho's per-message goroutine, so
	// that large snapshot chunks decode in parallel: msg is the decoded
	// message, or err why it was rejected.
	msg wire.Message
	err error
}

// New returns a client; it does no I/O.
func New(opt Options) (*Client, error) {
	if err := opt.defaults(); err != nil {
		return nil, err
	}
	return &Client{
		opt: opt, log: opt.Logger.With("component", "mqttsync", "device", opt.Device),
		replay:   &replayGuard{path: opt.ReplayFile, seen: map[string]time.Time{}},
		keysIn:   make(chan inbound, 1024),
		actIn:    make(chan inbound, 256),
		resyncIn: make(chan wire.SnapshotReason, 1),
		kick:     make(chan struct{}, 1),
	}, nil
}

// Stats returns a copy of the counters.
func (c *Client) Stats() Stats { return c.stats.get() }

// Kick tells the client that events were added to the outbox, so that it
// sends them without waiting for its next poll. It never blocks.
func (c *Client) Kick() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// Resync asks for a complete snapshot (reason "resync"). It never blocks.
func (c *Client) Resync() {
	select {
	case c.resyncIn <- wire.SnapResync:
	default:
	}
}

// Run syncs until ctx ends, then publishes the offline status, disconnects
// and returns nil. It returns an error only if it cannot start (the store
// or the replay file is unreadable).
func (c *Client) Run(ctx context.Context) error {
	rev, err := c.opt.Store.Revision()
	if err != nil {
		return fmt.Errorf("mqttsync: read revision: %w", err)
	}
	if err := c.replay.load(); err != nil {
		return err
	}
	c.stats.add(func(s *Stats) { s.Revision = rev })
	// Expiry checks compare with the newest server time ever seen, not
	// just this run's: a device that boots with a wrong clock still
	// refuses a command that expired before its last shutdown.
	if t, err := c.opt.Store.NewestServerTime(); err == nil && !t.IsZero() {
		c.newestServer.Store(t.UnixNano())
		c.persisted.Store(t.UnixNano())
	}
	var wg sync.WaitGroup
	loops, stop := context.WithCancel(ctx)
	defer func() { stop(); wg.Wait() }()
	c.mu.Lock()
	c.loopsEnd = loops.Done()
	c.mu.Unlock()
	k := newKeys(c, rev)
	wg.Go(func() { k.run(loops) })
	wg.Go(func() { c.actions(loops) })

	first := true
	for attempt := 0; ctx.Err() == nil; {
		cl, sessionPresent, lost, err := c.connect(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			c.stats.add(func(s *Stats) { s.ConnectFailures++ })
			wait := Backoff(attempt, c.opt.MinBackoff, c.opt.MaxBackoff, jitter())
			c.log.Warn("connect failed", "err", err, "retry_in", wait)
			attempt++
			if !sleep(ctx, wait) {
				break
			}
			continue
		}
		reason := wire.SnapshotReason("")
		switch {
		case first:
			reason = wire.SnapStart
		case !sessionPresent:
			reason = wire.SnapSessionLost
		}
		first = false
		began := time.Now()
		c.session(ctx, cl, lost, reason)
		// Back off after a loss too: a connection that keeps dropping at
		// once (another client with our id, a broker refusing us after
		// CONNACK) must not become a reconnect storm, and a fleet that lost
		// its broker must not return in lockstep.
		if time.Since(began) >= stableSession {
			attempt = 0
		}
		wait := Backoff(attempt, c.opt.MinBackoff, c.opt.MaxBackoff, jitter())
		attempt++
		if !sleep(ctx, wait) {
			break
		}
	}
	return nil
}

// stableSession is how long a connection must last for the reconnect
// backoff to start again from MinBackoff.
const stableSession = time.Minute

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// connect makes one connection and subscribes.
func (c *Client) connect(ctx context.Context) (mqtt.Client, bool, <-chan error, error) {
	lost := make(chan error, 1)
	will, _ := wire.Encode(&wire.Status{Device: c.opt.Device, State: wire.StateOffline})
	o := mqtt.NewClientOptions().
		AddBroker(c.opt.Broker).
		SetClientID(c.opt.Device).
		SetCleanSession(false).
		SetOrderMatters(false).
		SetAutoReconnect(false).
		SetConnectRetry(false).
		SetKeepAlive(c.opt.KeepAlive).
		SetPingTimeout(min(c.opt.KeepAlive, 10*time.Second)).
		SetConnectTimeout(c.opt.ConnectTimeout).
		SetWriteTimeout(c.opt.WriteTimeout).
		SetStore(mqtt.NewMemoryStore()).
		SetBinaryWill(wire.TopicStatus.Name(c.opt.Device), will, 1, true).
		SetDefaultPublishHandler(c.route).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) {
			select {
			case lost <- err:
			default:
			}
		})
	if c.opt.TLS != nil {
		o.SetTLSConfig(c.opt.TLS)
	}
	if c.opt.Username != "" {
		o.SetUsername(c.opt.Username).SetPassword(c.opt.Password)
	}
	cl := mqtt.NewClient(o)
	tok := cl.Connect()
	if !waitToken(ctx, tok, c.opt.ConnectTimeout+time.Second) {
		go cl.Disconnect(0)
		return nil, false, nil, fmt.Errorf("mqttsync: connect %s: timed out", c.opt.Broker)
	}
	if err := tok.Error(); err != nil {
		return nil, false, nil, fmt.Errorf("mqttsync: connect %s: %w", c.opt.Broker, err)
	}
	sessionPresent := tok.(*mqtt.ConnectToken).SessionPresent()
	subs := map[string]byte{}
	for _, t := range []wire.Topic{wire.TopicDelta, wire.TopicHead, wire.TopicSnapshot, wire.TopicCommand, wire.TopicPlate, wire.TopicFace} {
		subs[t.Name(c.opt.Device)] = 1
	}
	st := cl.SubscribeMultiple(subs, nil)
	if !waitToken(ctx, st, c.opt.ConnectTimeout) || st.Error() != nil {
		cl.Disconnect(0)
		return nil, false, nil, fmt.Errorf("mqttsync: subscribe: %v", st.Error())
	}
	for topic, q := range st.(*mqtt.SubscribeToken).Result() {
		if q > 1 { // 0x80: refused by the broker (an ACL), which is not a token error
			cl.Disconnect(0)
			return nil, false, nil, fmt.Errorf("mqttsync: subscribe %s: refused by the broker (granted 0x%02x)", topic, q)
		}
	}
	c.stats.add(func(s *Stats) { s.Connects++; s.Connected = true })
	c.log.Info("connected", "broker", c.opt.Broker, "session_present", sessionPresent)
	return cl, sessionPresent, lost, nil
}

func waitToken(ctx context.Context, t mqtt.Token, d time.Duration) bool {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-t.Done():
		return true
	case <-timer.C:
	case <-ctx.Done():
	}
	return false
}

// session serves one connection until it is lost or ctx ends.
func (c *Client) session(ctx context.Context, cl mqtt.Client, lost <-chan error, reason wire.SnapshotReason) {
	c.mu.Lock()
	c.conn = cl
	c.mu.Unlock()
	sctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := c.drain(sctx, cl); err != nil && sctx.Err() == nil {
			c.log.Warn("event drain stopped; reconnecting", "err", err)
			cl.Disconnect(0)
			select {
			case <-sctx.Done():
			default:
				cancel()
			}
		}
	})
	if reason != "" {
		select {
		case c.resyncIn <- reason:
		default:
		}
	}
	c.publishStatus(cl, wire.StateOnline)
	hb := time.NewTicker(c.opt.Heartbeat)
	defer hb.Stop()
loop:
	for {
		select {
		case <-hb.C:
			c.publishStatus(cl, wire.StateOnline)
		case err := <-lost:
			c.log.Warn("connection lost", "err", err)
			break loop
		case <-sctx.Done():
			break loop
		}
	}
	cancel()
	wg.Wait()
	c.mu.Lock()
	c.conn = nil
	c.mu.Unlock()
	c.stats.add(func(s *Stats) { s.Connected = false })
	if ctx.Err() != nil && cl.IsConnectionOpen() {
		// Clean shutdown: say so before the will would.
		t := c.publishStatus(cl, wire.StateOffline)
		if t != nil {
			t.WaitTimeout(time.Second)
		}
	}
	cl.Disconnect(250)
}

// publishStatus publishes the retained status; it does not wait.
func (c *Client) publishStatus(cl mqtt.Client, state string) mqtt.Token {
	st := wire.Status{Device: c.opt.Device, State: state, At: c.opt.Now().UTC()}
	if s, err := c.opt.Store.Stats(); err == nil {
		st.Revision, st.CacheSize, st.OutboxDepth, st.OutboxDropped, st.Quarantined = s.Revision, int(s.Visits), int(s.OutboxDepth), s.Dropped, s.Quarantined
	}
	if c.opt.Handler != nil {
		h := c.opt.Handler.Health()
		st.ClockTrusted, st.ClockWhy, st.Lockdown, st.Readers, st.Version = h.ClockTrusted, h.ClockWhy, h.Lockdown, h.Readers, h.Version
	}
	b, err := wire.Encode(&st)
	if err != nil {
		c.log.Error("encode status", "err", err)
		return nil
	}
	return cl.Publish(wire.TopicStatus.Name(c.opt.Device), 1, true, b)
}

// publish sends on the current connection without waiting for the PUBACK.
func (c *Client) publish(t wire.Topic, m wire.Message) error {
	b, err := wire.Encode(m)
	if err != nil {
		return fmt.Errorf("mqttsync: encode %s: %w", t, err)
	}
	c.mu.Lock()
	cl := c.conn
	c.mu.Unlock()
	if cl == nil {
		return ErrNotConnected
	}
	cl.Publish(t.Name(c.opt.Device), 1, false, b)
	return nil
}

// route is paho's handler for every message. Paho calls it on a goroutine
// of its own per message (SetOrderMatters(false)), so it only hands the
// message on; the keys loop restores revision order itself.
func (c *Client) route(_ mqtt.Client, m mqtt.Message) {
	dev, t, err := wire.ParseTopic(m.Topic())
	if err != nil || dev != c.opt.Device {
		c.stats.reject("topic:invalid")
		return
	}
	in := inbound{topic: t, payload: m.Payload()}
	ch := c.actIn
	switch t {
	case wire.TopicDelta, wire.TopicHead, wire.TopicSnapshot:
		ch = c.keysIn
		switch t {
		case wire.TopicDelta:
			in.msg = &wire.Delta{}
		case wire.TopicHead:
			in.msg = &wire.Head{}
		default:
			in.msg = &wire.SnapshotChunk{}
		}
		in.err = wire.Decode(in.payload, in.msg)
		in.payload = nil
	case wire.TopicCommand, wire.TopicPlate, wire.TopicFace:
	default:
		c.stats.reject(t.String() + ":unexpected")
		return
	}
	// Block (paho's per-message goroutine) rather than drop: a dropped
	// delta would only cost a snapshot, but a dropped command would go
	// unanswered. The loops drain quickly.
	c.mu.Lock()
	end := c.loopsEnd
	c.mu.Unlock()
	select {
	case ch <- in:
	case <-end: // Run is over
	case <-time.After(c.opt.WriteTimeout * 2):
		c.stats.reject(t.String() + ":overload")
	}
}

// observe records a server time from a cloud message. The store gets it
// when it is at least ServerTimeStep newer than what it has, so that every
// delta does not cost an extra fsync; clock trust tolerates minutes.
func (c *Client) observe(t time.Time) {
	if t.IsZero() {
		return
	}
	n := t.UnixNano()
	for {
		old := c.newestServer.Load()
		if n <= old || c.newestServer.CompareAndSwap(old, n) {
			break
		}
	}
	if n-c.persisted.Load() < int64(c.opt.ServerTimeStep) {
		return
	}
	if _, err := c.opt.Store.ObserveServerTime(t); err != nil {
		c.log.Error("record server time", "err", err)
		return
	}
	c.persisted.Store(n)
}

// NewestServerTime is the newest server time seen in cloud messages (or
// found in the store at start; zero if none). The store holds it to within
// ServerTimeStep.
func (c *Client) NewestServerTime() time.Time {
	if n := c.newestServer.Load(); n != 0 {
		return time.Unix(0, n)
	}
	return time.Time{}
}

// reject counts and reports bad input.
func (c *Client) reject(ctx context.Context, t wire.Topic, class string, err error) {
	c.stats.reject(t.String() + ":" + class)
	c.log.Warn("input rejected", "topic", t.String(), "class", class, "err", err)
	c.event(ctx, access.Event{Type: access.EventBadInput, Reader: "mqtt", Detail: t.String() + ": " + err.Error()})
}

// event records one of the client's own events.
func (c *Client) event(ctx context.Context, e access.Event) {
	e.ID = access.NewEventID()
	if e.At.IsZero() {
		e.At = c.opt.Now().UTC()
	}
	if len(e.Detail) > 512 {
		e.Detail = e.Detail[:512]
	}
	if err := c.opt.Events(ctx, e); err != nil {
		c.log.Error("record event", "type", e.Type, "err", err)
		return
	}
	c.Kick()
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
