package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/localapi"
	"github.com/intercomd/intercomd/sync/mqttsync"
	"github.com/intercomd/intercomd/sync/wire"
)

// cloudLink is the daemon's side of the MQTT sync: it decides web unlocks
// and plate/face reads through the same pipeline as local readers, and
// applies the cloud's commands.
type cloudLink struct {
	d      *daemon
	client *mqttsync.Client
	since  atomic.Int64 // unix nanos of the last link state change
	was    atomic.Bool
}

var _ mqttsync.Handler = (*cloudLink)(nil)

func (d *daemon) newCloudLink() (*cloudLink, error) {
	m := d.cfg.MQTT
	if m.Broker == "" {
		return nil, nil
	}
	opt := mqttsync.Options{
		Device:     d.cfg.DeviceID,
		Broker:     m.Broker,
		Username:   m.Username,
		Store:      d.db,
		Logger:     d.log.With("part", "sync"),
		ReplayFile: filepath.Join(filepath.Dir(d.cfg.Database), "replay.json"),
		Events: func(ctx context.Context, evs ...access.Event) error {
			if err := d.db.Append(ctx, evs...); err != nil {
				return err
			}
			d.bus.publish(evs...)
			return nil
		},
		Applied: func(uint64) {
			if d.link != nil {
				d.clock.observe(d.link.client.NewestServerTime())
			}
			d.lastSync.Store(time.Now().UnixNano())
		},
	}
	if m.PasswordFile != "" {
		b, err := os.ReadFile(m.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("mqtt: password: %w", err)
		}
		opt.Password = string(trimNL(b))
	}
	if m.CAFile != "" || m.CertFile != "" {
		tc, err := mqttsync.TLSFiles(m.CAFile, m.CertFile, m.KeyFile)
		if err != nil {
			return nil, err
		}
		opt.TLS = tc
	}
	l := &cloudLink{d: d}
	opt.Handler = l
	c, err := mqttsync.New(opt)
	if err != nil {
		return nil, err
	}
	l.client = c
	return l, nil
}

func trimNL(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func (l *cloudLink) Decide(ctx context.Context, c access.Credential) access.Decision {
	return l.d.pipe.decide(ctx, c)
}

func (l *cloudLink) RemoteUnlock(ctx context.Context, operator string) error {
	uid := -1
	l.d.emitAsync(access.Event{Type: access.EventAudit, Reader: "cloud", UID: &uid, Detail: "remote unlock by " + operator})
	return l.d.door.Unlock("remote")
}

func (l *cloudLink) Lockdown(ctx context.Context, on bool) error {
	return l.d.setLockdown(on, "cloud")
}

func (l *cloudLink) ApplyConfig(ctx context.Context, ch wire.ConfigChange) error {
	d := l.d
	ec := d.engine.Config()
	if ch.TimeZone != "" {
		loc, err := time.LoadLocation(ch.TimeZone)
		if err != nil {
			return fmt.Errorf("time zone %q: %w", ch.TimeZone, err)
		}
		ec.Location = loc
	}
	switch ch.DoorMode {
	case "":
	case "normal":
		ec.DoorMode = access.DoorModeNormal
	case "third_party":
		ec.DoorMode = access.DoorModeThirdParty
	default:
		return fmt.Errorf("door mode %q", ch.DoorMode)
	}
	if ch.VisitKeysEnabled != nil {
		ec.VisitKeysEnabled = *ch.VisitKeysEnabled
	}
	if s := ch.SingleUseWindowSeconds; s != nil {
		if *s < 10 || *s > 86400 {
			return fmt.Errorf("single use window %d s out of 10..86400", *s)
		}
		ec.SingleUseWindow = time.Duration(*s) * time.Second
	}
	if s := ch.UnlockSeconds; s != nil {
		if *s < 1 || *s > 60 {
			return fmt.Errorf("unlock time %d s out of 1..60", *s)
		}
		d.unlockTime.Store(int64(time.Duration(*s) * time.Second))
	}
	err := d.updateCloudConfig(func(c *cloudConfig) {
		if ch.TimeZone != "" {
			c.TimeZone = ch.TimeZone
		}
		if ch.DoorMode != "" {
			c.DoorMode = ch.DoorMode
		}
		if ch.VisitKeysEnabled != nil {
			c.VisitKeysEnabled = ch.VisitKeysEnabled
		}
		if ch.SingleUseWindowSeconds != nil {
			c.SingleUseWindow = ec.SingleUseWindow.String()
		}
		if ch.UnlockSeconds != nil {
			c.UnlockTime = (time.Duration(*ch.UnlockSeconds) * time.Second).String()
		}
	})
	if err != nil {
		return err
	}
	d.engine.SetConfig(ec)
	return nil
}

func (l *cloudLink) Health() mqttsync.Health {
	d := l.d
	clk := d.clock.now()
	h := mqttsync.Health{ClockTrusted: clk.Trusted, ClockWhy: clk.Why, Lockdown: d.engine.Config().Lockdown,
		Version: version, Readers: map[string]string{}}
	for _, r := range d.readerHealth() {
		if r.Kind == "mqtt" {
			continue
		}
		st := "ok"
		if !r.Online {
			st = "offline"
		}
		h.Readers[r.ID] = st
	}
	return h
}

// syncStatus fills the link part of a technician status.
func (d *daemon) syncStatus(s *localapi.Status) {
	if n := d.lastSync.Load(); n != 0 {
		s.Sync.LastSync = time.Unix(0, n)
	}
	if d.link == nil {
		return
	}
	st := d.link.client.Stats()
	s.MQTT.Broker = d.cfg.MQTT.Broker
	s.MQTT.State = "disconnected"
	if st.Connected {
		s.MQTT.State = "connected"
	}
	if n := d.link.since.Load(); n != 0 {
		s.MQTT.Since = time.Unix(0, n)
	}
	if st.Revision > s.Sync.Revision {
		s.Sync.Revision = st.Revision
	}
}

// watchLink notes when the link changes state, for status.
func (l *cloudLink) watch(ctx context.Context) error {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		c := l.client.Stats().Connected
		if c != l.was.Load() || l.since.Load() == 0 {
			l.was.Store(c)
			l.since.Store(time.Now().UnixNano())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (b backend) Resync(ctx context.Context) error {
	if b.d.link == nil {
		return fmt.Errorf("no cloud link configured: %w", localapi.ErrUnavailable)
	}
	b.d.link.client.Resync()
	return nil
}
