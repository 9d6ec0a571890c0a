//go:build cgo && !nocamera

package camera

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"gocv.io/x/gocv"

	"github.com/intercomd/intercomd/reader/qr"
)

const cvAvailable = true

// liveMats counts the Mats this package holds open; tests check that it
// returns to zero (gocv's MatProfile does the same under -tags matprofile).
var liveMats atomic.Int64

func newMat() gocv.Mat {
	liveMats.Add(1)
	return gocv.NewMat()
}

func closeMat(m *gocv.Mat) {
	if err := m.Close(); err == nil {
		liveMats.Add(-1)
	}
}

// cvCapture wraps a gocv VideoCapture and its two reusable Mats.
type cvCapture struct {
	vc        *gocv.VideoCapture
	raw, gray gocv.Mat
	rate      float64
}

func openCV(cfg Config) (capture, error) {
	var (
		vc  *gocv.VideoCapture
		err error
	)
	switch cfg.Kind {
	case KindDevice:
		dev := cfg.Source
		if r, e := filepath.EvalSymlinks(dev); e == nil { // /dev/v4l/by-id/...
			dev = r
		}
		if n, e := strconv.Atoi(strings.TrimPrefix(dev, "/dev/video")); e == nil {
			vc, err = gocv.VideoCaptureDeviceWithAPI(n, gocv.VideoCaptureV4L2)
		} else {
			vc, err = gocv.VideoCaptureFileWithAPI(dev, gocv.VideoCaptureV4L2)
		}
	case KindURL, KindFile:
		vc, err = gocv.VideoCaptureFileWithAPI(cfg.Source, gocv.VideoCaptureFFmpeg)
	default:
		return nil, fmt.Errorf("camera: %v is not an OpenCV source", cfg.Kind)
	}
	if err != nil {
		if vc != nil {
			vc.Close()
		}
		return nil, fmt.Errorf("camera: open %s: %w", cfg.Source, err)
	}
	if !vc.IsOpened() {
		vc.Close()
		return nil, fmt.Errorf("camera: open %s: not opened", cfg.Source)
	}
	if cfg.Kind == KindDevice {
		// Compressed frames keep USB bandwidth low at 720p, and one driver
		// buffer means a read returns the newest frame, not a stale one.
		vc.Set(gocv.VideoCaptureFOURCC, vc.ToCodec("MJPG"))
		vc.Set(gocv.VideoCaptureBufferSize, 1)
		if cfg.Width > 0 && cfg.Height > 0 {
			vc.Set(gocv.VideoCaptureFrameWidth, float64(cfg.Width))
			vc.Set(gocv.VideoCaptureFrameHeight, float64(cfg.Height))
		}
	}
	c := &cvCapture{vc: vc, raw: newMat(), gray: newMat()}
	if cfg.Kind == KindFile {
		c.rate = vc.Get(gocv.VideoCaptureFPS)
	}
	return c, nil
}

func (c *cvCapture) read() (qr.Gray, bool) {
	if !c.vc.Read(&c.raw) || c.raw.Empty() {
		return qr.Gray{}, false
	}
	src := &c.raw
	switch c.raw.Channels() {
	case 1:
	case 3:
		gocv.CvtColor(c.raw, &c.gray, gocv.ColorBGRToGray)
		src = &c.gray
	case 4:
		gocv.CvtColor(c.raw, &c.gray, gocv.ColorBGRAToGray)
		src = &c.gray
	default:
		return qr.Gray{}, false
	}
	// Copy out: the Mat is overwritten by the next read, while the frame
	// may still be in a decoder.
	return qr.Gray{Pix: src.ToBytes(), Width: src.Cols(), Height: src.Rows(), Stride: src.Cols()}, true
}

func (c *cvCapture) fps() float64 { return c.rate }

func (c *cvCapture) close() {
	closeMat(&c.raw)
	closeMat(&c.gray)
	c.vc.Close()
}
