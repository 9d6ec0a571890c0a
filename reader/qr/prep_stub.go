//go:build !cgo || nocamera

package qr

const cvAvailable = false

// prep without OpenCV: only the pure-Go scaling is available, so the decoder
// still works (more slowly and on fewer frames) in a cgo-free build.
type prep struct{ small []byte }

func newPrep() *prep { return &prep{} }

func (p *prep) close() {}

// scaled shrinks g by 1/f with a box filter.
func (p *prep) scaled(g Gray, f int) (Gray, bool) {
	w, h := g.Width/f, g.Height/f
	if w < 40 || h < 40 {
		return Gray{}, false
	}
	if cap(p.small) < w*h {
		p.small = make([]byte, w*h)
	}
	out := p.small[:w*h]
	n := f * f
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			s := 0
			for dy := 0; dy < f; dy++ {
				row := g.Pix[(y*f+dy)*g.Stride+x*f:]
				for dx := 0; dx < f; dx++ {
					s += int(row[dx])
				}
			}
			out[y*w+x] = byte(s / n)
		}
	}
	return Gray{Pix: out, Width: w, Height: h, Stride: w}, true
}

func (p *prep) resized(g Gray, f float64) (Gray, bool) { return Gray{}, false }

func (p *prep) equalized(g Gray) (Gray, bool) { return Gray{}, false }

func (p *prep) locate(g Gray) ([4]Point, bool) { return [4]Point{}, false }

func (p *prep) rectify(g Gray, q [4]Point, px, border int) (Gray, bool) { return Gray{}, false }
