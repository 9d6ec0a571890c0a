package qr

import (
	"image"
	"math"

	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// Binarizer names one of gozxing's binarizers.
type Binarizer uint8

// Binarizers. Hybrid thresholds per 8x8 block against its neighbourhood and
// copes with glare gradients; GlobalHistogram uses one threshold and is about
// five times faster.
const (
	BinHybrid Binarizer = iota
	BinGlobal
)

func (b Binarizer) String() string {
	switch b {
	case BinHybrid:
		return "hybrid"
	case BinGlobal:
		return "global"
	}
	return "binarizer(?)"
}

// Point is a position in frame pixels.
type Point struct{ X, Y float64 }

// Symbol is one decoded QR code: its text and the centres of its finder
// patterns (and alignment pattern when found) in frame coordinates.
type Symbol struct {
	Text   string
	Points []Point
	quad   bool // Points are the code's four corners (OpenCV), not finder centres
}

// Bounds returns the box around the symbol's points, grown by margin times
// its size on every side and clipped to the frame w x h.
func (s Symbol) Bounds(margin float64, w, h int) image.Rectangle {
	if len(s.Points) == 0 {
		return image.Rectangle{}
	}
	minX, minY, maxX, maxY := s.Points[0].X, s.Points[0].Y, s.Points[0].X, s.Points[0].Y
	for _, p := range s.Points[1:] {
		minX, maxX = min(minX, p.X), max(maxX, p.X)
		minY, maxY = min(minY, p.Y), max(maxY, p.Y)
	}
	m := margin * max(maxX-minX, maxY-minY)
	return image.Rect(int(minX-m), int(minY-m), int(maxX+m)+1, int(maxY+m)+1).Intersect(image.Rect(0, 0, w, h))
}

// scanner runs gozxing on gray bytes. It holds a gozxing reader, which is not
// safe to share, so each worker has its own.
type scanner struct {
	reader gozxing.Reader
	hints  map[gozxing.DecodeHintType]interface{}
	cands  []Point // finder-like points seen by the last scan, in its image
}

func newScanner() *scanner {
	s := &scanner{reader: qrcode.NewQRCodeReader()}
	s.hints = map[gozxing.DecodeHintType]interface{}{
		gozxing.DecodeHintType_TRY_HARDER: true,
		// Every finder-like point gozxing confirms is recorded: a failed scan
		// still says where a code may be, which steers the costly stages.
		gozxing.DecodeHintType_NEED_RESULT_POINT_CALLBACK: gozxing.ResultPointCallback(func(p gozxing.ResultPoint) {
			if len(s.cands) < 64 {
				s.cands = append(s.cands, Point{p.GetX(), p.GetY()})
			}
		}),
	}
	return s
}

// fixed is a binarizer whose black matrix is already computed, so that one
// binarization serves both polarities.
type fixed struct {
	gozxing.Binarizer
	m *gozxing.BitMatrix
}

func (f fixed) GetBlackMatrix() (*gozxing.BitMatrix, error) { return f.m, nil }

// scan decodes one QR code in g, dark on light and then, if invert is set,
// light on dark. The luminance source reads g's bytes in place (a crop is an
// offset and a stride), so no image.Image is built. Points, and the
// candidates left in s.cands, are in g's coordinates.
func (s *scanner) scan(g Gray, bin Binarizer, invert bool) (*gozxing.Result, error) {
	s.cands = s.cands[:0]
	src, err := gozxing.NewPlanarYUVLuminanceSource(g.Pix, g.Stride, g.Height, 0, 0, g.Width, g.Height, false)
	if err != nil {
		return nil, err
	}
	var b gozxing.Binarizer
	if bin == BinGlobal {
		b = gozxing.NewGlobalHistgramBinarizer(src)
	} else {
		b = gozxing.NewHybridBinarizer(src)
	}
	m, err := b.GetBlackMatrix()
	if err != nil {
		return nil, err
	}
	bmp, err := gozxing.NewBinaryBitmap(fixed{b, m})
	if err != nil {
		return nil, err
	}
	r, err := s.reader.Decode(bmp, s.hints)
	if err == nil || !invert {
		return r, err
	}
	// The detector does not write to the image matrix, so it can be
	// flipped in place for the second polarity.
	m.FlipAll()
	return s.reader.Decode(bmp, s.hints)
}

// symbol converts a result found in an image that maps to the frame by
// frame = offset + scale*p.
func symbol(r *gozxing.Result, scale float64, off Point) Symbol {
	s := Symbol{Text: r.GetText()}
	for _, p := range r.GetResultPoints() {
		s.Points = append(s.Points, Point{off.X + scale*p.GetX(), off.Y + scale*p.GetY()})
	}
	return s
}

func hypot(x, y float64) float64 {
	return math.Sqrt(x*x + y*y)
}
