package qr

import "image"

// maxCodes bounds the codes taken from one frame.
const maxCodes = 4

// DecodeAll returns every QR code in g, up to maxCodes. After Decode finds
// one, the code is painted over in a copy of the frame and the cheap stages
// run again, so a second phone (or a printed code beside a screen) is found
// too; a frame without a code costs the same as Decode.
func (d *Decoder) DecodeAll(g Gray) ([]Symbol, error) {
	syms, err := d.Decode(g)
	if err != nil || len(syms) == 0 {
		return syms, err
	}
	return append(syms, d.DecodeMore(g, syms)...), nil
}

// DecodeMore looks for further codes in g besides the ones already found
// (by Decode), painting those over in a copy of the frame. The Reader calls
// it after it has sent the first code's credential, so a second code does
// not delay the first.
func (d *Decoder) DecodeMore(g Gray, found []Symbol) []Symbol {
	if len(found) == 0 || g.Valid() != nil {
		return nil
	}
	syms := append([]Symbol(nil), found...)
	roi, ttl := d.roi, d.roiTTL
	defer func() { d.roi, d.roiTTL = roi, ttl }()
	work := Gray{Pix: make([]byte, g.Width*g.Height), Width: g.Width, Height: g.Height, Stride: g.Width}
	for y := 0; y < g.Height; y++ {
		copy(work.Pix[y*g.Width:(y+1)*g.Width], g.Pix[y*g.Stride:])
	}
	for len(syms) < maxCodes {
		mask(work, syms[len(syms)-1])
		d.cands, d.regions, d.half = d.cands[:0], d.regions[:0], Gray{}
		var found bool
		for _, st := range []Stage{StageHalf, StageCrop} {
			if s, ok := d.try(st, work); ok && !seen(syms, s.Text) {
				syms = append(syms, s)
				found = true
				break
			}
		}
		if !found {
			break
		}
	}
	return syms[len(found):]
}

func seen(syms []Symbol, text string) bool {
	for _, s := range syms {
		if s.Text == text {
			return true
		}
	}
	return false
}

// mask paints a flat grey over a found code: the quadrilateral through its
// finder centres and the estimated fourth corner, grown to cover the finder
// patterns' outer rings and the quiet zone.
func mask(g Gray, s Symbol) {
	if len(s.Points) < 3 {
		return
	}
	q, grow := quad(s)
	c := Point{(q[0].X + q[2].X) / 2, (q[0].Y + q[2].Y) / 2}
	for i := range q {
		q[i] = Point{c.X + grow*(q[i].X-c.X), c.Y + grow*(q[i].Y-c.Y)}
	}
	b := image.Rect(int(min(q[0].X, q[1].X, q[2].X, q[3].X)), int(min(q[0].Y, q[1].Y, q[2].Y, q[3].Y)),
		int(max(q[0].X, q[1].X, q[2].X, q[3].X))+1, int(max(q[0].Y, q[1].Y, q[2].Y, q[3].Y))+1).
		Intersect(image.Rect(0, 0, g.Width, g.Height))
	for y := b.Min.Y; y < b.Max.Y; y++ {
		row := g.Pix[y*g.Stride:]
		for x := b.Min.X; x < b.Max.X; x++ {
			if inside(q, Point{float64(x), float64(y)}) {
				row[x] = 128
			}
		}
	}
}

// quad returns a quadrilateral around the code and how much to grow it
// about its centre to cover the whole code with its quiet zone.
func quad(s Symbol) ([4]Point, float64) {
	if s.quad && len(s.Points) == 4 {
		return [4]Point{s.Points[0], s.Points[1], s.Points[2], s.Points[3]}, 1.15
	}
	// gozxing reports bottom-left, top-left, top-right (then alignment):
	// finder centres, 3.5 modules inside the corners.
	bl, tl, tr := s.Points[0], s.Points[1], s.Points[2]
	br := Point{tr.X + bl.X - tl.X, tr.Y + bl.Y - tl.Y}
	return [4]Point{tl, tr, br, bl}, 1.45
}

// inside reports whether p is inside the convex quadrilateral q, whatever
// its winding.
func inside(q [4]Point, p Point) bool {
	var pos, neg bool
	for i := range 4 {
		a, b := q[i], q[(i+1)%4]
		cross := (b.X-a.X)*(p.Y-a.Y) - (b.Y-a.Y)*(p.X-a.X)
		pos = pos || cross > 0
		neg = neg || cross < 0
	}
	return !(pos && neg)
}
