//go:build cgo && !nocamera

package qr

import (
	"fmt"
	"image"
	"image/color"

	"gocv.io/x/gocv"
)

// cvAvailable reports whether OpenCV preprocessing is compiled in.
const cvAvailable = true

// prep is the OpenCV side of the decoder: scaling, contrast normalisation,
// localisation and rectification. It owns its Mats, which are reused from
// frame to frame, so a decoder allocates no Mats in steady state. It is not
// safe for concurrent use.
type prep struct {
	small, eq, warp gocv.Mat
	clahe           gocv.CLAHE
	det             gocv.QRCodeDetector
	points          gocv.Mat
}

func newPrep() *prep {
	return &prep{
		small:  gocv.NewMat(),
		eq:     gocv.NewMat(),
		warp:   gocv.NewMat(),
		points: gocv.NewMat(),
		clahe:  gocv.NewCLAHEWithParams(3, image.Pt(8, 8)),
		det:    gocv.NewQRCodeDetector(),
	}
}

func (p *prep) close() {
	p.small.Close()
	p.eq.Close()
	p.warp.Close()
	p.points.Close()
	p.clahe.Close()
	p.det.Close()
}

// withMat runs f on a Mat header over g's pixels (no copy). The header must
// not outlive f.
func withMat(g Gray, f func(m gocv.Mat)) error {
	n := (g.Height-1)*g.Stride + g.Width
	if g.Stride == g.Width {
		m, err := gocv.NewMatFromBytes(g.Height, g.Width, gocv.MatTypeCV8U, g.Pix[:n])
		if err != nil {
			return fmt.Errorf("qr: wrap frame: %w", err)
		}
		defer m.Close()
		f(m)
		return nil
	}
	if len(g.Pix) >= g.Height*g.Stride {
		m, err := gocv.NewMatFromBytes(g.Height, g.Stride, gocv.MatTypeCV8U, g.Pix[:g.Height*g.Stride])
		if err != nil {
			return fmt.Errorf("qr: wrap frame: %w", err)
		}
		defer m.Close()
		r := m.Region(image.Rect(0, 0, g.Width, g.Height))
		defer r.Close()
		f(r)
		return nil
	}
	// A sub-image whose last row is short: compact it.
	buf := make([]byte, g.Width*g.Height)
	for y := 0; y < g.Height; y++ {
		copy(buf[y*g.Width:(y+1)*g.Width], g.Pix[y*g.Stride:])
	}
	return withMat(Gray{Pix: buf, Width: g.Width, Height: g.Height, Stride: g.Width}, f)
}

// view returns a Gray over a continuous 8-bit Mat's pixels; it is valid until
// the Mat is next written or closed.
func view(m *gocv.Mat) (Gray, bool) {
	b, err := m.DataPtrUint8()
	if err != nil || m.Empty() {
		return Gray{}, false
	}
	return Gray{Pix: b, Width: m.Cols(), Height: m.Rows(), Stride: m.Cols()}, true
}

// scaled returns g shrunk by 1/f with area averaging, which keeps module
// edges while removing sensor noise.
func (p *prep) scaled(g Gray, f int) (Gray, bool) {
	sz := image.Pt(g.Width/f, g.Height/f)
	if sz.X < 40 || sz.Y < 40 {
		return Gray{}, false
	}
	if withMat(g, func(m gocv.Mat) { gocv.Resize(m, &p.small, sz, 0, 0, gocv.InterpolationArea) }) != nil {
		return Gray{}, false
	}
	return view(&p.small)
}

// resized returns g scaled by f (0 < f < 1) with area averaging, into the
// buffer slot (0 or 1) so that two sizes can be alive at once.
func (p *prep) resized(g Gray, f float64) (Gray, bool) {
	sz := image.Pt(int(float64(g.Width)*f), int(float64(g.Height)*f))
	if sz.X < 40 || sz.Y < 40 {
		return Gray{}, false
	}
	if withMat(g, func(m gocv.Mat) { gocv.Resize(m, &p.warp, sz, 0, 0, gocv.InterpolationArea) }) != nil {
		return Gray{}, false
	}
	return view(&p.warp)
}

// equalized returns g after CLAHE, for dim and washed-out codes.
func (p *prep) equalized(g Gray) (Gray, bool) {
	if withMat(g, func(m gocv.Mat) { p.clahe.Apply(m, &p.eq) }) != nil {
		return Gray{}, false
	}
	return view(&p.eq)
}

// locate finds a QR code's corners with OpenCV's detector (which works on
// Debian's build even though decoding does not).
func (p *prep) locate(g Gray) ([4]Point, bool) {
	var q [4]Point
	ok := false
	if withMat(g, func(m gocv.Mat) { ok = p.det.Detect(m, &p.points) }) != nil || !ok {
		return q, false
	}
	if p.points.Total() < 4 {
		return q, false
	}
	pv := gocv.NewPoint2fVectorFromMat(p.points)
	defer pv.Close()
	pts := pv.ToPoints()
	if len(pts) < 4 {
		return q, false
	}
	for i := range 4 {
		q[i] = Point{float64(pts[i].X), float64(pts[i].Y)}
	}
	return q, true
}

// rectify maps the quadrilateral q of g onto a square of side px with a quiet
// zone of border pixels on every side, undoing perspective and rotation.
func (p *prep) rectify(g Gray, q [4]Point, px, border int) (Gray, bool) {
	side := float32(px + 2*border)
	src := gocv.NewPoint2fVectorFromPoints([]gocv.Point2f{
		{X: float32(q[0].X), Y: float32(q[0].Y)}, {X: float32(q[1].X), Y: float32(q[1].Y)},
		{X: float32(q[2].X), Y: float32(q[2].Y)}, {X: float32(q[3].X), Y: float32(q[3].Y)},
	})
	defer src.Close()
	b := float32(border)
	dst := gocv.NewPoint2fVectorFromPoints([]gocv.Point2f{
		{X: b, Y: b}, {X: side - b, Y: b}, {X: side - b, Y: side - b}, {X: b, Y: side - b},
	})
	defer dst.Close()
	m := gocv.GetPerspectiveTransform2f(src, dst)
	defer m.Close()
	if withMat(g, func(in gocv.Mat) {
		gocv.WarpPerspectiveWithParams(in, &p.warp, m, image.Pt(int(side), int(side)),
			gocv.InterpolationLinear, gocv.BorderReplicate, color.RGBA{})
	}) != nil {
		return Gray{}, false
	}
	return view(&p.warp)
}

// ReadImage reads an image file (any format OpenCV reads) as grayscale.
func ReadImage(path string) (Gray, error) {
	m := gocv.IMRead(path, gocv.IMReadGrayScale)
	defer m.Close()
	if m.Empty() {
		return Gray{}, fmt.Errorf("qr: read image %s: not a readable image", path)
	}
	return Gray{Pix: m.ToBytes(), Width: m.Cols(), Height: m.Rows(), Stride: m.Cols()}, nil
}
