//go:build cgo && !nocamera

package qr

import (
	"fmt"
	"image"
	"image/color"

	"gocv.io/x/gocv"
)

// Snapshot encodes a frame as a JPEG with the outline of every QR code found
// in it drawn in green, for the technician's "camera snapshot". The codes'
// texts are not drawn: they may be visit keys.
func Snapshot(g Gray) ([]byte, error) {
	if err := g.Valid(); err != nil {
		return nil, err
	}
	d := NewDecoder()
	defer d.Close()
	syms, err := safeDecode(d, g, nil)
	if err != nil {
		return nil, fmt.Errorf("qr: snapshot: %w", err)
	}
	more, err := safeDecode(d, g, syms)
	if err != nil {
		return nil, fmt.Errorf("qr: snapshot: %w", err)
	}
	syms = append(syms, more...)
	var out []byte
	err = withMat(g, func(m gocv.Mat) {
		bgr := gocv.NewMat()
		defer bgr.Close()
		gocv.CvtColor(m, &bgr, gocv.ColorGrayToBGR)
		for _, s := range syms {
			q, grow := quad(s)
			c := Point{(q[0].X + q[2].X) / 2, (q[0].Y + q[2].Y) / 2}
			pts := make([]image.Point, 4)
			for i, p := range q {
				pts[i] = image.Pt(int(c.X+grow*(p.X-c.X)), int(c.Y+grow*(p.Y-c.Y)))
			}
			pv := gocv.NewPointsVectorFromPoints([][]image.Point{pts})
			gocv.Polylines(&bgr, pv, true, color.RGBA{0, 255, 0, 255}, 3)
			pv.Close()
		}
		buf, e := gocv.IMEncode(gocv.JPEGFileExt, bgr)
		if e != nil {
			err = e
			return
		}
		defer buf.Close()
		out = append([]byte(nil), buf.GetBytes()...)
	})
	if err != nil {
		return nil, fmt.Errorf("qr: snapshot: %w", err)
	}
	return out, nil
}
