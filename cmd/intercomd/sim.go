package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/intercomd/intercomd/localapi"
	"github.com/intercomd/intercomd/reader/keypad/td63sim"
	"github.com/intercomd/intercomd/reader/wiegand"
)

// Sim injects a simulated input through the real reader path: Wiegand edges
// on the fake lines, key frames through the pty, a frame into the camera
// source, or a level on a door input.
func (b backend) Sim(ctx context.Context, r localapi.SimRequest) error {
	s := b.d.hw.sim
	if s == nil {
		return localapi.ErrNotSim
	}
	switch r.Kind {
	case localapi.SimCard:
		format := r.Format
		if format == "" {
			format = localapi.DefaultWiegandFormat
		}
		f, err := wiegand.ParseFormat(format)
		if err != nil {
			return fmt.Errorf("%w: %v", localapi.ErrBadRequest, err)
		}
		fcs, cns, ok := strings.Cut(r.Card, ":")
		fc, err1 := strconv.ParseUint(fcs, 10, 64)
		cn, err2 := strconv.ParseUint(cns, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("%w: card must be FACILITY:NUMBER", localapi.ErrBadRequest)
		}
		_, err = s.tx.SendCard(ctx, f, fc, cn)
		return err
	case localapi.SimPIN:
		for _, c := range r.PIN {
			if c < '0' || c > '9' {
				return fmt.Errorf("%w: pin must be digits", localapi.ErrBadRequest)
			}
		}
		if len(r.PIN) == 0 || len(r.PIN) > 16 {
			return fmt.Errorf("%w: pin must be 1-16 digits", localapi.ErrBadRequest)
		}
		if r.Format == "wiegand" {
			// A PIN on the Wiegand reader's keypad: 4-bit key bursts.
			_, err := s.tx.SendKeys(ctx, r.PIN+"#", 4)
			return err
		}
		return typeKeys(ctx, s.pad, r.PIN+"#")
	case localapi.SimQR:
		return b.d.simQR(ctx, r)
	case localapi.SimREX:
		s.rex.Set(rexLevel(b.d.cfg, true))
		select {
		case <-ctx.Done():
		case <-time.After(200 * time.Millisecond):
		}
		s.rex.Set(rexLevel(b.d.cfg, false))
		return nil
	case localapi.SimDoor:
		switch r.Door {
		case "open":
			s.dpi.Set(dpiLevel(b.d.cfg, true))
		case "close", "closed":
			s.dpi.Set(dpiLevel(b.d.cfg, false))
		default:
			return fmt.Errorf("%w: door must be open or close", localapi.ErrBadRequest)
		}
		return nil
	}
	return fmt.Errorf("%w: sim %v", localapi.ErrBadRequest, r.Kind)
}

// typeKeys types on the emulated keypad, waiting for it to be attached: it
// detaches for a moment whenever the reader reopens the line.
func typeKeys(ctx context.Context, pad *td63sim.Keypad, keys string) error {
	deadline := time.Now().Add(3 * time.Second)
	for {
		if pad.Attached() {
			err := pad.Type(ctx, keys)
			if !errors.Is(err, td63sim.ErrDetached) {
				return err
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sim pin: keypad emulator not attached for 3 s: %w", localapi.ErrUnavailable)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}
