package cloudsim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/sync/wire"
)

// Options configure a Cloud. Zero values mean the documented defaults.
type Options struct {
	Broker   string // required
	ClientID string // default "cloudsim-" + random
	// Ephemeral uses a clean session: nothing is queued for this client
	// while it is away, and the broker forgets it on disconnect. For
	// short-lived tools; a long-lived cloud keeps its session.
	Ephemeral          bool
	TLS                *tls.Config
	Username, Password string
	Hasher             *access.Hasher // required to create or update visits
	// Exactly one of State (in memory) and File (shared with other
	// processes) holds the data; neither means a new in-memory State.
	State *State
	File  *File
	// Serve answers snapshot requests (on by default with a nil pointer).
	Serve *bool
	// OnEvents receives every event batch from any device (at least once:
	// deduplicate by event id). Nil: events are not subscribed to.
	OnEvents func(device string, b *wire.EventBatch)
	// OnRequest is told of each snapshot request (for tests).
	OnRequest func(device string, r *wire.SnapshotRequest)
	Logger    *slog.Logger
}

// Cloud is the stand-in cloud connected to a broker.
type Cloud struct {
	opt Options
	log *slog.Logger
	cl  mqtt.Client

	mu sync.Mutex // guards opt.State and orders publishes of changes
	// results waits for command results by request id.
	rmu     sync.Mutex
	results map[string]chan wire.Result
}

// Dial connects to the broker and, unless Serve is false, starts answering
// snapshot requests. The connection reconnects by itself until Close.
func Dial(ctx context.Context, opt Options) (*Cloud, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.ClientID == "" {
		opt.ClientID = "cloudsim-" + randHex(4)
	}
	if opt.State == nil && opt.File == nil {
		opt.State = NewState()
	}
	c := &Cloud{opt: opt, log: opt.Logger.With("component", "cloudsim"), results: map[string]chan wire.Result{}}
	o := mqtt.NewClientOptions().AddBroker(opt.Broker).SetClientID(opt.ClientID).
		// Ordered delivery keeps event batches in arrival order; route never
		// blocks (a snapshot is answered on a goroutine of its own).
		SetCleanSession(opt.Ephemeral).SetOrderMatters(true).SetAutoReconnect(true).
		SetMaxReconnectInterval(time.Second).SetConnectRetry(true).SetConnectRetryInterval(200 * time.Millisecond).
		SetKeepAlive(10 * time.Second).SetWriteTimeout(5 * time.Second).
		SetOnConnectHandler(c.onConnect)
	if opt.TLS != nil {
		o.SetTLSConfig(opt.TLS)
	}
	if opt.Username != "" {
		o.SetUsername(opt.Username).SetPassword(opt.Password)
	}
	c.cl = mqtt.NewClient(o)
	tok := c.cl.Connect()
	select {
	case <-tok.Done():
	case <-ctx.Done():
		c.cl.Disconnect(0)
		return nil, fmt.Errorf("cloudsim: connect %s: %w", opt.Broker, ctx.Err())
	}
	if err := tok.Error(); err != nil {
		return nil, fmt.Errorf("cloudsim: connect %s: %w", opt.Broker, err)
	}
	return c, nil
}

// Close disconnects.
func (c *Cloud) Close() { c.cl.Disconnect(250) }

func (c *Cloud) onConnect(cl mqtt.Client) {
	subs := map[string]byte{"intercom/+/cmd/result": 1}
	if c.opt.Serve == nil || *c.opt.Serve {
		subs["intercom/+/keys/request"] = 1
	}
	if c.opt.OnEvents != nil {
		subs["intercom/+/events"] = 1
	}
	t := cl.SubscribeMultiple(subs, c.route)
	if t.WaitTimeout(5*time.Second) && t.Error() != nil {
		c.log.Error("subscribe", "err", t.Error())
	}
	// A restarted broker may have lost the retained heads.
	_ = c.view(func(st *State) error {
		for dev, rev := range st.Revisions {
			c.publishHead(dev, rev)
		}
		return nil
	})
}

func (c *Cloud) route(_ mqtt.Client, m mqtt.Message) {
	dev, t, err := wire.ParseTopic(m.Topic())
	if err != nil {
		return
	}
	switch t {
	case wire.TopicSnapshotReq:
		var r wire.SnapshotRequest
		if err := wire.Decode(m.Payload(), &r); err != nil {
			c.log.Warn("bad snapshot request", "device", dev, "err", err)
			return
		}
		if c.opt.OnRequest != nil {
			c.opt.OnRequest(dev, &r)
		}
		go func() {
			if err := c.SendSnapshot(dev, r.RequestID); err != nil {
				c.log.Error("snapshot", "device", dev, "err", err)
			}
		}()
	case wire.TopicCommandResult:
		var r wire.Result
		if err := wire.Decode(m.Payload(), &r); err != nil {
			c.log.Warn("bad result", "device", dev, "err", err)
			return
		}
		c.rmu.Lock()
		ch := c.results[r.RequestID]
		c.rmu.Unlock()
		if ch != nil {
			select {
			case ch <- r:
			default:
			}
		}
	case wire.TopicEvents:
		var b wire.EventBatch
		if err := wire.Decode(m.Payload(), &b); err != nil {
			c.log.Warn("bad event batch", "device", dev, "err", err)
			return
		}
		c.opt.OnEvents(dev, &b)
	}
}

func (c *Cloud) view(fn func(*State) error) error {
	if c.opt.File != nil {
		return c.opt.File.View(fn)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return fn(c.opt.State)
}

func (c *Cloud) update(fn func(*State) error) error {
	if c.opt.File != nil {
		return c.opt.File.Update(fn)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return fn(c.opt.State)
}

// View calls fn with the state (read only).
func (c *Cloud) View(fn func(*State) error) error { return c.view(fn) }

// Create creates a visit and publishes it.
func (c *Cloud) Create(spec Spec) (*Visit, error) {
	var v *Visit
	err := c.update(func(st *State) error {
		var deltas map[string]wire.Delta
		var err error
		if v, deltas, err = st.Create(c.opt.Hasher, spec); err != nil {
			return err
		}
		c.publishDeltas(deltas)
		return nil
	})
	return v, err
}

// Update changes a visit and publishes it.
func (c *Cloud) Update(id string, fn func(*Visit)) error {
	return c.update(func(st *State) error {
		deltas, err := st.Update(c.opt.Hasher, id, fn)
		if err != nil {
			return err
		}
		c.publishDeltas(deltas)
		return nil
	})
}

// Delete deletes a visit and publishes the deletion.
func (c *Cloud) Delete(id string) error {
	return c.update(func(st *State) error {
		deltas, err := st.Delete(id)
		if err != nil {
			return err
		}
		c.publishDeltas(deltas)
		return nil
	})
}

// publishDeltas publishes in device order, each delta then its head. It runs
// under the state lock, so that deltas go out in revision order.
func (c *Cloud) publishDeltas(deltas map[string]wire.Delta) {
	devs := make([]string, 0, len(deltas))
	for d := range deltas {
		devs = append(devs, d)
	}
	sort.Strings(devs)
	for _, dev := range devs {
		d := deltas[dev]
		if err := c.Publish(wire.TopicDelta.Name(dev), &d, false); err != nil {
			c.log.Warn("delta not confirmed; the head or a snapshot will repair", "device", dev, "rev", d.Rev, "err", err)
		}
		c.publishHead(dev, d.Rev)
	}
}

func (c *Cloud) publishHead(dev string, rev uint64) {
	if err := c.Publish(wire.TopicHead.Name(dev), &wire.Head{Rev: rev, SentAt: time.Now().UTC()}, true); err != nil {
		c.log.Warn("head not confirmed", "device", dev, "err", err)
	}
}

// Publish encodes m and publishes it with QoS 1, waiting up to 5 s for the
// PUBACK.
func (c *Cloud) Publish(topic string, m wire.Message, retained bool) error {
	b, err := wire.Encode(m)
	if err != nil {
		return err
	}
	return c.PublishRaw(topic, b, retained)
}

// PublishRaw publishes bytes as they are (for bad-input tests) with QoS 1.
func (c *Cloud) PublishRaw(topic string, payload []byte, retained bool) error {
	t := c.cl.Publish(topic, 1, retained, payload)
	if !t.WaitTimeout(5 * time.Second) {
		return fmt.Errorf("cloudsim: publish %s: no PUBACK within 5 s", topic)
	}
	if err := t.Error(); err != nil {
		return fmt.Errorf("cloudsim: publish %s: %w", topic, err)
	}
	return nil
}

// SendSnapshot publishes the device's complete live set in chunks answering
// requestID ("" for an unrequested one).
func (c *Cloud) SendSnapshot(device, requestID string) error {
	var chunks [][]byte
	if err := c.view(func(st *State) error {
		var err error
		chunks, err = st.SnapshotPayloads(device, requestID)
		return err
	}); err != nil {
		return err
	}
	topic := wire.TopicSnapshot.Name(device)
	var last mqtt.Token
	for _, b := range chunks {
		last = c.cl.Publish(topic, 1, false, b)
	}
	if last != nil && last.WaitTimeout(30*time.Second) {
		return last.Error()
	}
	return nil
}

// ErrNoResult: a command got no result before its context ended.
var ErrNoResult = errors.New("cloudsim: no command result")

// Command sends a command to a device and waits for its result. Empty
// RequestID, IssuedAt and ExpiresAt are filled (a fresh id; now; now+1 min).
func (c *Cloud) Command(ctx context.Context, device string, cmd wire.Command) (wire.Result, error) {
	if cmd.RequestID == "" {
		cmd.RequestID = "rq-" + randHex(8)
	}
	if cmd.IssuedAt.IsZero() {
		cmd.IssuedAt = time.Now().UTC()
	}
	if cmd.ExpiresAt.IsZero() {
		cmd.ExpiresAt = cmd.IssuedAt.Add(time.Minute)
	}
	ch := make(chan wire.Result, 1)
	c.rmu.Lock()
	c.results[cmd.RequestID] = ch
	c.rmu.Unlock()
	defer func() {
		c.rmu.Lock()
		delete(c.results, cmd.RequestID)
		c.rmu.Unlock()
	}()
	if err := c.Publish(wire.TopicCommand.Name(device), &cmd, false); err != nil {
		return wire.Result{}, err
	}
	select {
	case r := <-ch:
		return r, nil
	case <-ctx.Done():
		return wire.Result{}, fmt.Errorf("%w for %s %s: %w", ErrNoResult, cmd.Type, cmd.RequestID, ctx.Err())
	}
}
