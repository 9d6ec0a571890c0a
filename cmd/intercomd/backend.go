package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/localapi"
	"github.com/intercomd/intercomd/store"
)

// backend is the daemon as the technician socket sees it.
type backend struct{ d *daemon }

var _ localapi.Backend = backend{}

func (b backend) Status(ctx context.Context) (localapi.Status, error) {
	d := b.d
	st, err := d.db.Stats()
	if err != nil {
		return localapi.Status{}, fmt.Errorf("store: %w", err)
	}
	clk := d.clock.now()
	door := d.door.State()
	s := localapi.Status{
		Now:     clk.Now,
		Started: d.started,
		Cache:   localapi.CacheStatus{Visits: int(st.Visits), Credentials: int(st.Creds), Tombstones: int(st.Tombstones)},
		Outbox:  localapi.OutboxStatus{Depth: int(st.OutboxDepth), Dropped: st.Dropped, Quarantined: int(st.Quarantined)},
		Door: localapi.DoorStatus{
			Relay: "locked", UnlockUntil: door.Until, Door: "unknown",
		},
		Lockdown: d.engine.Config().Lockdown,
		Clock:    localapi.ClockStatus{Trusted: clk.Trusted, Why: clk.Why},
		Versions: localapi.Versions{Daemon: version, Schema: store.SchemaVersion, Go: runtime.Version()},
		Sim:      d.hw.sim != nil,
		LogLevel: strings.ToLower(d.level.Level().String()),
		Sync:     localapi.SyncStatus{Revision: st.Revision},
		MQTT:     localapi.MQTTStatus{State: "disabled"},
	}
	if door.Unlocked {
		s.Door.Relay = "unlocked"
	}
	if door.DoorKnown {
		s.Door.Door = "closed"
		if door.DoorOpen {
			s.Door.Door = "open"
		}
	}
	if t, err := d.db.NewestServerTime(); err == nil {
		s.Sync.ServerTime = t
	}
	d.syncStatus(&s)
	s.Readers = d.readerHealth()
	return s, nil
}

func (d *daemon) readerHealth() []localapi.ReaderHealth {
	var rs []localapi.ReaderHealth
	if w := d.wiegand; w != nil {
		st := w.Stats()
		errs := st.NoisePulses.Load() + st.BothLow.Load() + st.Runts.Load() + st.BadLength.Load() + st.Parity.Load() +
			st.Complement.Load() + st.BadKey.Load() + st.Overflow.Load() + st.BadLine.Load() + st.SourceErrors.Load()
		h := localapi.ReaderHealth{ID: w.Config().Name, Kind: "wiegand", Online: true, Errors: errs}
		if fr := w.Recent(); len(fr) > 0 {
			h.LastActivity = fr[len(fr)-1].At
		}
		rs = append(rs, h)
	}
	if k := d.keypad; k != nil {
		st := k.Stats()
		rs = append(rs, localapi.ReaderHealth{
			ID: st.Reader, Kind: "keypad", Online: st.Online, LastActivity: st.LastActivity,
			Errors: st.Link.BadCRC + st.Link.Garbage,
		})
	}
	rs = append(rs, d.extraReaders()...)
	return rs
}

func (b backend) Keys(ctx context.Context, f localapi.KeyFilter) ([]localapi.Key, error) {
	d := b.d
	if f.ID != "" {
		v, first, err := d.db.Visit(f.ID)
		if errors.Is(err, store.ErrNotFound) || errors.Is(err, access.ErrNotFound) {
			return nil, fmt.Errorf("visit %q: %w", f.ID, localapi.ErrNotFound)
		}
		if err != nil {
			return nil, err
		}
		return []localapi.Key{keyOf(v, first, d.engine.Config().Location)}, nil
	}
	limit := f.Limit
	if limit <= 0 {
		limit = localapi.DefaultKeyLimit
	}
	limit = min(limit, localapi.MaxKeyLimit)
	var out []localapi.Key
	err := d.db.Visits(func(v access.Visit, first time.Time) bool {
		if v.ID <= f.After || (v.Deleted && !f.Deleted) {
			return true
		}
		out = append(out, keyOf(v, first, d.engine.Config().Location))
		return len(out) < limit
	})
	return out, err
}

func keyOf(v access.Visit, first time.Time, loc *time.Location) localapi.Key {
	k := localapi.Key{
		ID: v.ID, Version: v.Version, Start: v.Start, End: v.End, Intercoms: v.Intercoms,
		SingleUse: v.SingleUse, FirstUse: first, Deleted: v.Deleted,
	}
	if v.Days != 0 {
		var days []string
		for wd := time.Sunday; wd <= time.Saturday; wd++ {
			if v.Days.Has(wd) {
				days = append(days, strings.ToLower(wd.String()[:3]))
			}
		}
		k.Days = strings.Join(days, ",")
	}
	if v.DailyFrom != v.DailyTo {
		k.Daily = fmt.Sprintf("%02d:%02d-%02d:%02d", v.DailyFrom/60, v.DailyFrom%60, v.DailyTo/60, v.DailyTo%60)
	}
	return k
}

func (b backend) Events(ctx context.Context, n int, follow bool) ([]access.Event, <-chan access.Event, error) {
	var live <-chan access.Event
	if follow {
		live = b.d.bus.subscribe(ctx)
	}
	return b.d.bus.recent(n), live, nil
}

func (b backend) Explain(ctx context.Context, c access.Credential) (access.Decision, error) {
	if c.At.IsZero() {
		c.At = time.Now()
	}
	if c.Reader == "" {
		c.Reader = "explain"
	}
	return b.d.engine.Explain(c, b.d.clock.now()), nil
}

func (b backend) Relay(ctx context.Context, a localapi.RelayAction, dur localapi.Duration) error {
	door := b.d.door
	switch a {
	case localapi.RelayPulse:
		t := time.Duration(dur)
		if t == 0 {
			t = door.Config().UnlockTime
		}
		return door.Pulse(t, "technician")
	case localapi.RelayLock:
		return door.Lock("technician")
	case localapi.RelayUnlock:
		return door.Unlock("technician")
	}
	return fmt.Errorf("relay action %v: %w", a, localapi.ErrBadRequest)
}

func (b backend) WiegandLast(ctx context.Context, n int) ([]localapi.WiegandFrame, error) {
	w := b.d.wiegand
	if w == nil {
		return nil, fmt.Errorf("wiegand: %w", localapi.ErrUnavailable)
	}
	frames := w.Recent()
	if n > 0 && len(frames) > n {
		frames = frames[len(frames)-n:]
	}
	out := make([]localapi.WiegandFrame, 0, len(frames))
	for _, f := range frames {
		out = append(out, localapi.WiegandFrame{At: f.At, Reader: w.Config().Name, Bits: f.Raw, Format: f.Format, Error: f.Error})
	}
	return out, nil
}

func (b backend) KeypadStats(ctx context.Context) ([]localapi.KeypadStats, error) {
	k := b.d.keypad
	if k == nil {
		return nil, fmt.Errorf("keypad: %w", localapi.ErrUnavailable)
	}
	st := k.Stats()
	return []localapi.KeypadStats{{
		Reader: st.Reader, Port: b.d.keypadPort(), Online: st.Online, Frames: st.Link.Frames,
		BadCRC: st.Link.BadCRC, Resyncs: st.Link.Resyncs, Timeouts: st.Timeouts,
		Reconnects: st.Reconnects, LastHeartbeat: st.LastHeartbeat,
	}}, nil
}

func (d *daemon) keypadPort() string {
	if d.hw.sim != nil {
		return d.hw.sim.link.Path
	}
	return d.cfg.Keypad.Port
}

func (b backend) SetLogLevel(ctx context.Context, l slog.Level) error {
	b.d.level.Set(l)
	return nil
}

// SetLockdown turns lockdown on or off in the engine and the door, and
// persists it so that a restart keeps it.
func (b backend) SetLockdown(ctx context.Context, on bool) error {
	return b.d.setLockdown(on, "technician")
}

func (d *daemon) setLockdown(on bool, source string) error {
	if err := d.updateCloudConfig(func(c *cloudConfig) { c.Lockdown = &on }); err != nil {
		return err
	}
	ec := d.engine.Config()
	ec.Lockdown = on
	d.engine.SetConfig(ec)
	return d.door.SetLockdown(on, source)
}

// updateCloudConfig edits the persisted device config.
func (d *daemon) updateCloudConfig(edit func(*cloudConfig)) error {
	var c cloudConfig
	if raw, err := d.db.DeviceConfig(); err == nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, &c); err != nil {
			d.log.Warn("stored device config replaced", "err", err)
			c = cloudConfig{}
		}
	}
	edit(&c)
	raw, err := json.Marshal(c)
	if err != nil {
		return err
	}
	return d.db.SetDeviceConfig(raw)
}
