package qr

import (
	"image"
)

// Stage is one attempt of the decoder's cascade.
type Stage uint8

// Stages, cheapest first.
const (
	StageROI      Stage = iota // full resolution around last frame's code
	StageHalf                  // half resolution, hybrid binarizer
	StageFull                  // full resolution, hybrid binarizer
	StageCLAHE                 // contrast-normalised, half then full resolution
	StageLocate                // OpenCV localisation, rectified crop
	StageInverted              // dark-mode (light on dark) codes
	numStages
)

var stageNames = [...]string{"roi", "half", "full", "clahe", "locate", "inverted"}

func (s Stage) String() string {
	if int(s) < len(stageNames) {
		return stageNames[s]
	}
	return "stage(?)"
}

// Decoder finds QR codes in grayscale frames. It keeps state between frames
// (where the last code was) and reusable buffers, so it is not safe for
// concurrent use: give each worker its own. Close releases its OpenCV
// resources.
type Decoder struct {
	sc     *scanner
	pp     *prep
	stages []Stage
	roi    image.Rectangle // where the last code was, in frame pixels
	roiTTL int             // frames the roi is still tried
	hits   [numStages]uint64
}

// DefaultStages is the cascade used by NewDecoder.
var DefaultStages = []Stage{StageROI, StageHalf, StageFull, StageCLAHE, StageLocate, StageInverted}

// NewDecoder returns a decoder running stages in order (DefaultStages when
// none are given) until one finds a code.
func NewDecoder(stages ...Stage) *Decoder {
	if len(stages) == 0 {
		stages = DefaultStages
	}
	return &Decoder{sc: newScanner(), pp: newPrep(), stages: stages}
}

// Close releases the decoder's OpenCV resources.
func (d *Decoder) Close() error {
	d.pp.close()
	return nil
}

// Hits returns how many frames each stage decoded, indexed by Stage.
func (d *Decoder) Hits() [numStages]uint64 { return d.hits }

// Decode returns the QR codes found in g, in frame coordinates. A frame
// without a code returns nil; only an invalid image is an error.
func (d *Decoder) Decode(g Gray) ([]Symbol, error) {
	if err := g.Valid(); err != nil {
		return nil, err
	}
	for _, st := range d.stages {
		if s, ok := d.try(st, g); ok {
			d.hits[st]++
			d.roi = s.Bounds(0.6, g.Width, g.Height)
			d.roiTTL = 15
			return []Symbol{s}, nil
		}
	}
	if d.roiTTL > 0 {
		d.roiTTL--
	}
	return nil, nil
}

func (d *Decoder) try(st Stage, g Gray) (Symbol, bool) {
	switch st {
	case StageROI:
		if d.roiTTL == 0 || d.roi.Empty() {
			return Symbol{}, false
		}
		return d.at(d.roi.Min, g.Sub(d.roi), 1, BinHybrid, false)
	case StageHalf:
		if h, ok := d.pp.scaled(g, 2); ok {
			return d.at(image.Point{}, h, 2, BinHybrid, false)
		}
	case StageFull:
		return d.at(image.Point{}, g, 1, BinHybrid, false)
	case StageCLAHE:
		if h, ok := d.pp.scaled(g, 2); ok {
			if e, ok := d.pp.equalized(h); ok {
				if s, ok := d.at(image.Point{}, e, 2, BinHybrid, false); ok {
					return s, true
				}
			}
		}
		if e, ok := d.pp.equalized(g); ok {
			return d.at(image.Point{}, e, 1, BinHybrid, false)
		}
	case StageLocate:
		return d.located(g)
	case StageInverted:
		if h, ok := d.pp.scaled(g, 2); ok {
			if s, ok := d.at(image.Point{}, h, 2, BinHybrid, true); ok {
				return s, true
			}
		}
		return d.at(image.Point{}, g, 1, BinHybrid, true)
	}
	return Symbol{}, false
}

// at scans img, which maps to the frame by frame = off + scale*p.
func (d *Decoder) at(off image.Point, img Gray, scale float64, bin Binarizer, invert bool) (Symbol, bool) {
	r, err := d.sc.scan(img, bin, invert, false)
	if err != nil {
		return Symbol{}, false
	}
	return symbol(r, scale, Point{float64(off.X), float64(off.Y)}), true
}

// located asks OpenCV where the code is, rectifies it to an upright square
// with a quiet zone and decodes that.
func (d *Decoder) located(g Gray) (Symbol, bool) {
	q, ok := d.pp.locate(g)
	if !ok {
		return Symbol{}, false
	}
	side := 0.0
	for i := range 4 {
		a, b := q[i], q[(i+1)%4]
		side = max(side, hypot(a.X-b.X, a.Y-b.Y))
	}
	px := int(min(max(side, 100), 400))
	w, ok := d.pp.rectify(g, q, px, px/8)
	if !ok {
		return Symbol{}, false
	}
	if r, err := d.sc.scan(w, BinHybrid, false, false); err == nil {
		// Points are in the rectified square; report the located corners.
		s := Symbol{Text: r.GetText(), Points: q[:]}
		return s, true
	}
	return Symbol{}, false
}

// Reset forgets where the last code was, for a decoder reused on unrelated
// images.
func (d *Decoder) Reset() { d.roi, d.roiTTL = image.Rectangle{}, 0 }
