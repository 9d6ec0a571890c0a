package mqttsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/sync/wire"
)

// errNoHandler answers commands and reads when Options.Handler is nil.
var errNoHandler = errors.New("mqttsync: no handler configured")

func (c *Client) actions(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case in := <-c.actIn:
			switch in.topic {
			case wire.TopicCommand:
				c.command(ctx, in.payload)
			case wire.TopicPlate:
				var p wire.PlateRead
				if err := wire.Decode(in.payload, &p); err != nil {
					c.reject(ctx, in.topic, wire.Class(err), err)
					continue
				}
				c.read(ctx, in.topic, access.KindPlate, p.Plate, p.Camera, p.Confidence, p.At)
			case wire.TopicFace:
				var f wire.FaceRead
				if err := wire.Decode(in.payload, &f); err != nil {
					c.reject(ctx, in.topic, wire.Class(err), err)
					continue
				}
				c.read(ctx, in.topic, access.KindFace, f.Subject, f.Camera, f.Score, f.At)
			}
		}
	}
}

// read decides a plate or face read. A read older than MaxReadAge (queued
// while the device was offline) is refused: the car or person has gone.
func (c *Client) read(ctx context.Context, t wire.Topic, k access.Kind, value, camera string, score float64, at time.Time) {
	now := c.opt.Now()
	if age := now.Sub(at); age > c.opt.MaxReadAge {
		c.reject(ctx, t, "stale", fmt.Errorf("mqttsync: %s read from %s is %v old (max %v)", k, camera, age.Round(time.Second), c.opt.MaxReadAge))
		return
	}
	if score < c.opt.MinConfidence {
		c.stats.reject(t.String() + ":low_confidence")
		return
	}
	if c.opt.Handler == nil {
		c.reject(ctx, t, "unhandled", errNoHandler)
		return
	}
	d := c.opt.Handler.Decide(ctx, access.Credential{Kind: k, Value: value, Reader: camera, At: now})
	c.stats.add(func(s *Stats) { s.Reads++ })
	c.log.Info("read decided", "kind", k, "camera", camera, "grant", d.Grant, "reason", d.Reason)
}

func (c *Client) command(ctx context.Context, payload []byte) {
	c.stats.add(func(s *Stats) { s.Commands++ })
	now := c.opt.Now()
	var cmd wire.Command
	if err := wire.Decode(payload, &cmd); err != nil {
		c.reject(ctx, wire.TopicCommand, wire.Class(err), err)
		if id := wire.PeekRequestID(payload); id != "" {
			c.result(ctx, &wire.Result{RequestID: id, Status: wire.StatusRefused, Reason: wire.RefusedInvalid, Detail: err.Error()})
		}
		return
	}
	c.observe(cmd.IssuedAt)
	res := &wire.Result{RequestID: cmd.RequestID, Type: cmd.Type, VisitID: cmd.VisitID}
	if reason, detail := c.replay.check(&cmd, now, time.Unix(0, c.newestServer.Load())); reason != "" {
		res.Status, res.Reason, res.Detail = wire.StatusRefused, reason, detail
		c.log.Warn("command refused", "cmd", &cmd, "reason", reason, "detail", detail)
		c.result(ctx, res)
		return
	}
	// Remember the request before acting, so that a crash in between can
	// only lose the command, never run it twice.
	if err := c.replay.record(&cmd, now); err != nil {
		res.Status, res.Detail = wire.StatusError, err.Error()
		c.result(ctx, res)
		return
	}
	c.carryOut(ctx, &cmd, res)
	c.result(ctx, res)
}

func (c *Client) carryOut(ctx context.Context, cmd *wire.Command, res *wire.Result) {
	h := c.opt.Handler
	if h == nil && cmd.Type != wire.CmdResync {
		res.Status, res.Detail = wire.StatusError, errNoHandler.Error()
		return
	}
	var err error
	switch cmd.Type {
	case wire.CmdWebUnlock:
		d := h.Decide(ctx, access.Credential{Kind: access.KindWeb, Value: cmd.Token, Reader: "mqtt", At: c.opt.Now(), VisitID: cmd.VisitID})
		res.Status, res.Reason = wire.StatusOK, string(d.Reason)
		if !d.Grant {
			res.Status = wire.StatusDenied
		}
		return
	case wire.CmdRemoteUnlock:
		err = h.RemoteUnlock(ctx, cmd.Operator)
	case wire.CmdLockdown:
		err = h.Lockdown(ctx, *cmd.On)
	case wire.CmdResync:
		select {
		case c.resyncIn <- wire.SnapResync:
		default: // one is already pending
		}
	case wire.CmdConfig:
		err = h.ApplyConfig(ctx, *cmd.Config)
	}
	res.Status = wire.StatusOK
	if err != nil {
		res.Status, res.Detail = wire.StatusError, err.Error()
	}
}

// result publishes a command result and records it as an event.
func (c *Client) result(ctx context.Context, r *wire.Result) {
	r.At = c.opt.Now().UTC()
	if r.Status == wire.StatusRefused {
		c.stats.add(func(s *Stats) { s.CommandsRefused++ })
	}
	if len(r.Detail) > 1000 {
		r.Detail = r.Detail[:1000]
	}
	if err := c.publish(wire.TopicCommandResult, r); err != nil {
		c.log.Warn("command result not published", "request_id", r.RequestID, "err", err)
	}
	detail := fmt.Sprintf("%s %s: %s", r.Type, r.RequestID, r.Status)
	if r.Reason != "" {
		detail += " (" + r.Reason + ")"
	}
	c.event(ctx, access.Event{Type: access.EventCommand, VisitID: r.VisitID, Reader: "mqtt", Reason: access.Reason(r.Reason), Detail: detail})
}

// replayGuard refuses expired and replayed commands. It remembers the ids
// it acted on until they expire, and persists the newest issued_at acted on
// (the horizon): after a restart, commands issued at or before it are
// refused, since the ids seen before the restart are forgotten.
type replayGuard struct {
	path    string
	mu      sync.Mutex
	horizon time.Time // from the last run
	newest  time.Time // newest issued_at acted on
	seen    map[string]time.Time
}

type replayFile struct {
	Newest time.Time `json:"newest"`
}

func (g *replayGuard) load() error {
	if g.path == "" {
		return nil
	}
	b, err := os.ReadFile(g.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("mqttsync: read replay file: %w", err)
	}
	var f replayFile
	if err := json.Unmarshal(b, &f); err != nil {
		return fmt.Errorf("mqttsync: replay file %s: %w", g.path, err)
	}
	g.horizon, g.newest = f.Newest, f.Newest
	return nil
}

func (g *replayGuard) check(cmd *wire.Command, now, server time.Time) (reason, detail string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.seen[cmd.RequestID]; ok {
		return wire.RefusedReplayed, "request id seen before"
	}
	if !cmd.IssuedAt.After(g.horizon) {
		return wire.RefusedReplayed, "issued before the device's replay horizon (its last restart)"
	}
	if !now.Before(cmd.ExpiresAt) {
		return wire.RefusedExpired, fmt.Sprintf("arrived %v after expires_at", now.Sub(cmd.ExpiresAt).Round(time.Millisecond))
	}
	if !server.Before(cmd.ExpiresAt) {
		return wire.RefusedExpired, "expires_at is not after the newest server time seen"
	}
	return "", ""
}

func (g *replayGuard) record(cmd *wire.Command, now time.Time) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	for id, exp := range g.seen {
		if now.After(exp) {
			delete(g.seen, id) // expired: refused as such anyway
		}
	}
	g.seen[cmd.RequestID] = cmd.ExpiresAt
	if !cmd.IssuedAt.After(g.newest) {
		return nil
	}
	g.newest = cmd.IssuedAt
	if g.path == "" {
		return nil
	}
	b, _ := json.Marshal(replayFile{Newest: g.newest})
	return writeFileSync(g.path, b)
}

// writeFileSync replaces path with data durably: temp file, fsync, rename.
func writeFileSync(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("mqttsync: write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("mqttsync: write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("mqttsync: sync %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("mqttsync: write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("mqttsync: write %s: %w", path, err)
	}
	return nil
}
