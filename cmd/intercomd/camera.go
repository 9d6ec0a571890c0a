package main

import (
	"context"
	"fmt"

	"github.com/intercomd/intercomd/localapi"
)

// CameraSnapshot returns a JPEG of the camera's current frame.
func (b backend) CameraSnapshot(ctx context.Context) ([]byte, error) {
	return nil, fmt.Errorf("camera: %w", localapi.ErrUnavailable)
}

func (d *daemon) simQR(ctx context.Context, r localapi.SimRequest) error {
	return fmt.Errorf("camera: %w", localapi.ErrUnavailable)
}

// extraReaders reports readers beyond Wiegand and the keypad.
func (d *daemon) extraReaders() []localapi.ReaderHealth { return nil }
