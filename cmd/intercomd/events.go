package main

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/intercomd/intercomd/access"
)

// emitAsync queues a non-decision event (door, reader) for durable
// recording. Parts call it from their own goroutines and must not block on
// an fsync; if the queue is full it records synchronously rather than lose
// the event.
func (d *daemon) emitAsync(e access.Event) {
	if e.ID == "" {
		e.ID = access.NewEventID()
	}
	if e.At.IsZero() {
		e.At = time.Now()
	}
	select {
	case d.emitq <- e:
	default:
		if d.pipe != nil {
			d.pipe.emit(e)
			return
		}
		d.emitq <- e // before the pipeline exists nothing drains yet; wait
	}
}

// runEmitter records queued events, batching what has piled up into one
// commit.
func (d *daemon) runEmitter(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case e := <-d.emitq:
			d.record(e)
		}
	}
}

// flushEmitter records whatever is still queued, at shutdown.
func (d *daemon) flushEmitter() {
	for {
		select {
		case e := <-d.emitq:
			d.record(e)
		default:
			return
		}
	}
}

func (d *daemon) record(first access.Event) {
	batch := []access.Event{first}
	for len(batch) < 256 {
		select {
		case e := <-d.emitq:
			batch = append(batch, e)
			continue
		default:
		}
		break
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.db.Append(ctx, batch...); err != nil {
		d.log.Error("events not recorded", "n", len(batch), "err", err)
	}
	if d.pipe.kick != nil {
		d.pipe.kick()
	}
	d.bus.publish(batch...)
}

// cloudConfig is the part of the device config the cloud may set with a
// config command; it is persisted in the store's meta and overlays the file.
type cloudConfig struct {
	UnlockTime       string `json:"unlock_time,omitempty"`
	VisitKeysEnabled *bool  `json:"visit_keys_enabled,omitempty"`
	DoorMode         string `json:"door_mode,omitempty"`
	TimeZone         string `json:"time_zone,omitempty"`
	SingleUseWindow  string `json:"single_use_window,omitempty"`
	Lockdown         *bool  `json:"lockdown,omitempty"`
}

func overlayCloudConfig(ec *access.Config, raw []byte) error {
	var c cloudConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("cloud config: %w", err)
	}
	if c.VisitKeysEnabled != nil {
		ec.VisitKeysEnabled = *c.VisitKeysEnabled
	}
	switch c.DoorMode {
	case "normal":
		ec.DoorMode = access.DoorModeNormal
	case "third_party":
		ec.DoorMode = access.DoorModeThirdParty
	}
	if c.TimeZone != "" {
		loc, err := time.LoadLocation(c.TimeZone)
		if err != nil {
			return fmt.Errorf("cloud config: time zone %q: %w", c.TimeZone, err)
		}
		ec.Location = loc
	}
	if c.SingleUseWindow != "" {
		w, err := time.ParseDuration(c.SingleUseWindow)
		if err != nil {
			return fmt.Errorf("cloud config: single_use_window: %w", err)
		}
		ec.SingleUseWindow = w
	}
	if c.Lockdown != nil {
		ec.Lockdown = *c.Lockdown
	}
	return nil
}
