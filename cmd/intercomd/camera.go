package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	_ "image/jpeg" // sim qr accepts JPEG and PNG frames
	_ "image/png"
	"os"
	"path/filepath"
	"sync"

	"github.com/skip2/go-qrcode"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/device/camera"
	"github.com/intercomd/intercomd/localapi"
	"github.com/intercomd/intercomd/reader/qr"
)

// startCamera runs the camera and the QR reader. In simulation mode the
// camera watches an empty directory and sees only injected frames.
func (d *daemon) startCamera(ctx context.Context, runDir string, wg *sync.WaitGroup, goRun func(*sync.WaitGroup, string, func() error)) error {
	cfg := d.cfg
	if !cfg.Camera.Enabled && d.hw.sim == nil {
		return nil // in simulation every reader runs
	}
	src := cfg.Camera.Source
	if d.hw.sim != nil && src == "" {
		src = filepath.Join(runDir, "camera-sim")
		if err := os.MkdirAll(src, 0o750); err != nil {
			return fmt.Errorf("sim camera: %w", err)
		}
	}
	cam, err := camera.New(camera.Config{
		Source: src,
		Logger: d.log.With("part", "camera"),
		OnState: func(online bool, err error) {
			e := access.Event{Type: access.EventReaderOnline, Reader: "camera0"}
			if !online {
				e.Type = access.EventReaderOffline
				if err != nil {
					e.Detail = err.Error()
				}
			}
			d.emitAsync(e)
		},
	})
	if err != nil {
		return err
	}
	d.camera = cam
	d.qr = qr.New(qr.Config{HoldOff: cfg.Camera.HoldOff.Duration, Workers: cfg.Camera.Workers, Logger: d.log.With("part", "qr")})
	creds := make(chan access.Credential, 8)
	goRun(wg, "camera", func() error { return cam.Run(ctx) })
	goRun(wg, "qr", func() error { return d.qr.Run(ctx, cam, creds) })
	goRun(wg, "qr-decide", func() error { return d.decideFrom(ctx, creds) })
	return nil
}

// CameraSnapshot returns a JPEG of the camera's latest frame with any QR
// code outlined.
func (b backend) CameraSnapshot(ctx context.Context) ([]byte, error) {
	if b.d.camera == nil {
		return nil, fmt.Errorf("camera: %w", localapi.ErrUnavailable)
	}
	f, ok := b.d.camera.Latest()
	if !ok {
		return nil, fmt.Errorf("camera: no frame yet: %w", localapi.ErrUnavailable)
	}
	return qr.Snapshot(f.Gray)
}

// simQR shows the camera a frame: an image file's bytes, or a QR code of
// the payload rendered on a 1280x720 scene.
func (d *daemon) simQR(ctx context.Context, r localapi.SimRequest) error {
	if d.camera == nil {
		return fmt.Errorf("camera: %w", localapi.ErrUnavailable)
	}
	var img image.Image
	if len(r.Image) > 0 {
		m, _, err := image.Decode(bytes.NewReader(r.Image))
		if err != nil {
			return fmt.Errorf("%w: image: %v", localapi.ErrBadRequest, err)
		}
		img = m
	} else {
		m, err := sceneWithQR(r.QR)
		if err != nil {
			return fmt.Errorf("%w: %v", localapi.ErrBadRequest, err)
		}
		img = m
	}
	return d.camera.Inject(qr.Frame{Gray: qr.FromImage(img)})
}

// sceneWithQR renders payload as a QR code held up in a 1280x720 gray frame.
func sceneWithQR(payload string) (image.Image, error) {
	code, err := qrcode.New(payload, qrcode.Medium)
	if err != nil {
		return nil, err
	}
	sym := code.Image(320)
	scene := image.NewGray(image.Rect(0, 0, 1280, 720))
	draw.Draw(scene, scene.Bounds(), image.NewUniform(color.Gray{Y: 96}), image.Point{}, draw.Src)
	at := image.Pt(520, 200)
	draw.Draw(scene, sym.Bounds().Add(at), sym, image.Point{}, draw.Src)
	return scene, nil
}

// extraReaders reports the camera.
func (d *daemon) extraReaders() []localapi.ReaderHealth {
	if d.camera == nil {
		return nil
	}
	cs, qs := d.camera.Stats(), d.qr.Stats()
	return []localapi.ReaderHealth{{
		ID: "camera0", Kind: "camera", Online: cs.Online || d.hw.sim != nil, Errors: qs.DecodeErrors + cs.OpenErrors,
		Detail: fmt.Sprintf("frames %d, dropped %d, codes %d, not visit keys %d", cs.Frames+cs.Injected, cs.Dropped, qs.Decoded, qs.NotVisitKey),
	}}
}
