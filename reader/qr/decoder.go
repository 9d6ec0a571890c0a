package qr

import (
	"fmt"
	"image"
	"sort"
	"time"
)

// Stage is one attempt of the decoder's cascade.
type Stage uint8

// Stages, cheapest first. Every stage tries both polarities (dark-mode
// screens show light modules on black), sharing one binarization.
const (
	StageROI    Stage = iota // full resolution around the last frame's code
	StageHalf                // half resolution, whole frame
	StageCLAHE               // half resolution, contrast-normalised
	StageCrop                // full resolution around finder-like candidates
	StageLocate              // OpenCV localisation of a candidate region, rectified
	StageFull                // full resolution, whole frame
	StageWide                // three-quarter resolution, whole frame
	numStages
)

var stageNames = [...]string{"roi", "half", "clahe", "crop", "locate", "full", "wide"}

func (s Stage) String() string {
	if int(s) < len(stageNames) {
		return stageNames[s]
	}
	return "stage(?)"
}

// ParseStage returns the stage named s.
func ParseStage(s string) (Stage, error) {
	for i, n := range stageNames {
		if n == s {
			return Stage(i), nil
		}
	}
	return 0, fmt.Errorf("qr: unknown decoder stage %q", s)
}

// DefaultStages is the cascade used by NewDecoder.
//
// StageLocate is not in it: once candidate crops are tried at several scales
// and with both binarizers, OpenCV's localiser rescued no frame of either
// benchmark set, and on cluttered frames without a code it cost up to 25 ms.
var DefaultStages = []Stage{StageROI, StageHalf, StageWide, StageCrop, StageCLAHE, StageFull}

// Decoder finds QR codes in grayscale frames. It keeps state between frames
// (where the last code was) and reusable buffers, so it is not safe for
// concurrent use: give each worker its own. Close releases its OpenCV
// resources.
//
// The cascade is built so that a frame without a code is cheap: the whole
// frame is only ever scanned at half resolution; full resolution, contrast
// normalisation and OpenCV's localiser run only on regions where a scan saw
// finder-like patterns, at most maxRegions of them.
type Decoder struct {
	sc      *scanner
	pp      *prep
	stages  []Stage
	roi     image.Rectangle // where the last code was, in frame pixels
	roiTTL  int             // frames the roi is still tried
	cands   []Point         // finder-like points of this frame, in frame pixels
	half    Gray            // this frame at half resolution, once made
	regions []image.Rectangle
	hits    [numStages]uint64
	spent   [numStages]time.Duration
}

const (
	maxRegions = 3   // candidate regions examined per frame
	roiFrames  = 15  // frames a code's region is tried after it was last seen
	maxLocate  = 480 // largest region side given to OpenCV's localiser, px
)

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

// Spent returns the time spent in each stage, indexed by Stage.
func (d *Decoder) Spent() [numStages]time.Duration { return d.spent }

// Reset forgets where the last code was, for a decoder reused on unrelated
// images.
func (d *Decoder) Reset() { d.roi, d.roiTTL = image.Rectangle{}, 0 }

// Decode returns the QR code found in g, in frame coordinates. A frame
// without a code returns nil; only an invalid image is an error.
func (d *Decoder) Decode(g Gray) ([]Symbol, error) {
	if err := g.Valid(); err != nil {
		return nil, err
	}
	d.cands = d.cands[:0]
	d.regions = d.regions[:0]
	d.half = Gray{}
	for _, st := range d.stages {
		t := time.Now()
		s, ok := d.try(st, g)
		d.spent[st] += time.Since(t)
		if ok {
			d.hits[st]++
			d.roi = s.Bounds(0.6, g.Width, g.Height)
			d.roiTTL = roiFrames
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
		if d.roiTTL > 0 && !d.roi.Empty() {
			return d.at(d.roi.Min, g.Sub(d.roi), 1)
		}
	case StageHalf:
		if h, ok := d.halved(g); ok {
			return d.at(image.Point{}, h, 2)
		}
	case StageCLAHE:
		// Contrast normalisation is for dim or washed-out frames, or where
		// something finder-like was seen but not decoded.
		if h, ok := d.halved(g); ok && (len(d.cands) > 0 || lowContrast(h)) {
			if e, ok := d.pp.equalized(h); ok {
				return d.at(image.Point{}, e, 2)
			}
		}
	case StageCrop:
		for _, r := range d.candidateRegions(g) {
			if s, ok := d.crop(g.Sub(r), r.Min); ok {
				return s, true
			}
		}
	case StageLocate:
		for _, r := range d.candidateRegions(g) {
			if s, ok := d.located(g, r); ok {
				return s, true
			}
		}
	case StageFull:
		// The whole frame at full resolution is the costliest scan: only
		// when something finder-like was seen.
		if len(d.cands) > 0 {
			return d.at(image.Point{}, g, 1)
		}
	case StageWide:
		if w, ok := d.pp.resized(g, 0.75); ok {
			return d.at(image.Point{}, w, 1/0.75)
		}
	}
	return Symbol{}, false
}

// halved returns g at half resolution, made once per frame (prep keeps the
// pixels until the next frame's).
func (d *Decoder) halved(g Gray) (Gray, bool) {
	if d.half.Pix == nil {
		h, ok := d.pp.scaled(g, 2)
		if !ok {
			return Gray{}, false
		}
		d.half = h
	}
	return d.half, true
}

// lowContrast reports whether most of g's pixels (5th to 95th percentile,
// sampled) span less than 40% of the grey range: a dim or washed-out frame.
func lowContrast(g Gray) bool {
	var hist [256]int
	n := 0
	for y := 0; y < g.Height; y += 4 {
		row := g.Pix[y*g.Stride : y*g.Stride+g.Width]
		for x := 0; x < len(row); x += 4 {
			hist[row[x]]++
			n++
		}
	}
	lo, hi, acc := -1, -1, 0
	for v, c := range hist {
		acc += c
		if lo < 0 && acc >= n/20 {
			lo = v
		}
		if hi < 0 && acc >= n-n/20 {
			hi = v
		}
	}
	return hi-lo < 100
}

// crop tries a candidate region at full resolution with both binarizers,
// then at smaller scales (gozxing samples one pixel per module, so noise and
// blur defeat one scale and not another), then contrast-normalised.
func (d *Decoder) crop(c Gray, off image.Point) (Symbol, bool) {
	if s, ok := d.atBin(off, c, 1, BinHybrid); ok {
		return s, true
	}
	if s, ok := d.atBin(off, c, 1, BinGlobal); ok {
		return s, true
	}
	for _, f := range []float64{0.7, 0.5, 0.35} {
		if sm, ok := d.pp.resized(c, f); ok {
			for _, bin := range []Binarizer{BinHybrid, BinGlobal} {
				if s, ok := d.atBin(off, sm, 1/f, bin); ok {
					return s, true
				}
			}
		}
	}
	if e, ok := d.pp.equalized(c); ok {
		return d.atBin(off, e, 1, BinHybrid)
	}
	return Symbol{}, false
}

// at scans img, which maps to the frame by frame = off + scale*p, and keeps
// the finder-like candidates it saw.
func (d *Decoder) at(off image.Point, img Gray, scale float64) (Symbol, bool) {
	return d.atBin(off, img, scale, BinHybrid)
}

func (d *Decoder) atBin(off image.Point, img Gray, scale float64, bin Binarizer) (Symbol, bool) {
	r, err := d.sc.scan(img, bin, true)
	o := Point{float64(off.X), float64(off.Y)}
	for _, p := range d.sc.cands {
		d.cands = append(d.cands, Point{o.X + scale*p.X, o.Y + scale*p.Y})
	}
	if err != nil {
		return Symbol{}, false
	}
	return symbol(r, scale, o), true
}

// candidateRegions groups the frame's finder-like points into at most
// maxRegions boxes, most populated first, each grown to hold a whole code
// around them. The three finders of a code lie within its side, at most
// about a third of the frame height... or a little more when close up.
func (d *Decoder) candidateRegions(g Gray) []image.Rectangle {
	if len(d.regions) > 0 || len(d.cands) == 0 {
		return d.regions
	}
	reach := float64(max(g.Width, g.Height)) / 3
	type cluster struct {
		pts      []Point
		min, max Point
	}
	var cs []cluster
	for _, p := range d.cands {
		placed := false
		for i := range cs {
			c := &cs[i]
			if p.X > c.min.X-reach && p.X < c.max.X+reach && p.Y > c.min.Y-reach && p.Y < c.max.Y+reach &&
				max(p.X, c.max.X)-min(p.X, c.min.X) < 1.5*reach && max(p.Y, c.max.Y)-min(p.Y, c.min.Y) < 1.5*reach {
				c.pts = append(c.pts, p)
				c.min = Point{min(c.min.X, p.X), min(c.min.Y, p.Y)}
				c.max = Point{max(c.max.X, p.X), max(c.max.Y, p.Y)}
				placed = true
				break
			}
		}
		if !placed {
			cs = append(cs, cluster{pts: []Point{p}, min: p, max: p})
		}
	}
	sort.SliceStable(cs, func(i, j int) bool { return len(cs[i].pts) > len(cs[j].pts) })
	frame := image.Rect(0, 0, g.Width, g.Height)
	for _, c := range cs[:min(len(cs), maxRegions)] {
		// A lone finder may be any corner of the code: reach the code's
		// likely size in every direction. Several finders bound it.
		m := max(c.max.X-c.min.X, c.max.Y-c.min.Y)
		// The corner without a finder can lie a whole side beyond the
		// finders' box when the code is turned 45 degrees.
		grow := max(0.8*m, 0.12*float64(g.Height))
		if len(c.pts) == 1 || m < 0.1*float64(g.Height) {
			grow = 0.3 * float64(g.Height)
		}
		r := image.Rect(int(c.min.X-grow), int(c.min.Y-grow), int(c.max.X+grow)+1, int(c.max.Y+grow)+1).Intersect(frame)
		if r.Dx() >= 40 && r.Dy() >= 40 {
			d.regions = append(d.regions, r)
		}
	}
	return d.regions
}

// located asks OpenCV where a code is inside region r, rectifies it to an
// upright square with a quiet zone and decodes that.
func (d *Decoder) located(g Gray, r image.Rectangle) (Symbol, bool) {
	// OpenCV's detector slows down sharply with the area and clutter it is
	// given; a code fills much of its region, so 480 px are plenty.
	sub, f := g.Sub(r), 1.0
	if side := max(r.Dx(), r.Dy()); side > maxLocate {
		f = float64(maxLocate) / float64(side)
		var ok bool
		if sub, ok = d.pp.resized(sub, f); !ok {
			return Symbol{}, false
		}
	}
	q, ok := d.pp.locate(sub)
	if !ok {
		return Symbol{}, false
	}
	side := 0.0
	for i := range 4 {
		q[i].X = float64(r.Min.X) + q[i].X/f
		q[i].Y = float64(r.Min.Y) + q[i].Y/f
	}
	for i := range 4 {
		a, b := q[i], q[(i+1)%4]
		side = max(side, hypot(a.X-b.X, a.Y-b.Y))
	}
	px := int(min(max(side, 100), 400))
	w, ok := d.pp.rectify(g, q, px, px/8)
	if !ok {
		return Symbol{}, false
	}
	if res, err := d.sc.scan(w, BinHybrid, true); err == nil {
		// Points are in the rectified square; report the located corners.
		return Symbol{Text: res.GetText(), Points: q[:], quad: true}, true
	}
	return Symbol{}, false
}
