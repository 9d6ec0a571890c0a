package qr

import (
	"errors"
	"fmt"
	"image"
	"time"
)

// Gray is an 8-bit grayscale image in row-major order: pixel (x, y) is
// Pix[y*Stride+x]. It is the frame format of the camera and the decoder.
type Gray struct {
	Pix           []byte
	Width, Height int
	Stride        int
}

// Frame is one camera frame: a grayscale image, its sequence number and the
// time it was captured.
type Frame struct {
	Gray
	Seq uint64
	At  time.Time
}

// ErrNoCamera is returned by the parts that need OpenCV when the binary was
// built without it (CGO_ENABLED=0 or the nocamera tag).
var ErrNoCamera = errors.New("qr: built without camera support")

// Valid reports whether g describes a usable image.
func (g Gray) Valid() error {
	if g.Width <= 0 || g.Height <= 0 || g.Stride < g.Width {
		return fmt.Errorf("qr: bad image geometry %dx%d stride %d", g.Width, g.Height, g.Stride)
	}
	if len(g.Pix) < (g.Height-1)*g.Stride+g.Width {
		return fmt.Errorf("qr: image buffer of %d bytes is short for %dx%d stride %d", len(g.Pix), g.Width, g.Height, g.Stride)
	}
	return nil
}

// Sub returns the part of g inside r, sharing its pixels.
func (g Gray) Sub(r image.Rectangle) Gray {
	r = r.Intersect(image.Rect(0, 0, g.Width, g.Height))
	if r.Empty() {
		return Gray{}
	}
	off := r.Min.Y*g.Stride + r.Min.X
	return Gray{Pix: g.Pix[off:], Width: r.Dx(), Height: r.Dy(), Stride: g.Stride}
}

// FromImage converts any image to Gray. It is for tools and tests; frames
// from the camera are already gray.
func FromImage(img image.Image) Gray {
	b := img.Bounds()
	g := Gray{Pix: make([]byte, b.Dx()*b.Dy()), Width: b.Dx(), Height: b.Dy(), Stride: b.Dx()}
	if gi, ok := img.(*image.Gray); ok {
		for y := 0; y < g.Height; y++ {
			copy(g.Pix[y*g.Stride:y*g.Stride+g.Width], gi.Pix[(y)*gi.Stride:])
		}
		return g
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, gg, bb, _ := img.At(x, y).RGBA()
			// ITU-R 601 luma, as image/color.GrayModel.
			l := (19595*r + 38470*gg + 7471*bb + 1<<15) >> 24
			g.Pix[(y-b.Min.Y)*g.Stride+x-b.Min.X] = byte(l)
		}
	}
	return g
}
