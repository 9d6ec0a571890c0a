package qr

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

func rectXYWH(x, y, w, h int) image.Rectangle { return image.Rect(x, y, x+w, y+h) }

const fixtureDir = "../../testdata/qr"

type fixture struct {
	name  string
	texts []string // nil: no code
}

// fixtures reads testdata/qr/cases.txt, written by testdata/qr/gen.
func fixtures(t testing.TB) []fixture {
	t.Helper()
	f, err := os.Open(filepath.Join(fixtureDir, "cases.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var fx []fixture
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		x := fixture{name: fields[0]}
		if fields[1] != "-" {
			x.texts = fields[1:]
		}
		fx = append(fx, x)
	}
	if len(fx) < 5 {
		t.Fatalf("only %d fixtures in cases.txt", len(fx))
	}
	return fx
}

func load(t testing.TB, name string) Gray {
	t.Helper()
	g, err := ReadImage(filepath.Join(fixtureDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func texts(syms []Symbol) []string {
	var out []string
	for _, s := range syms {
		out = append(out, s.Text)
	}
	slices.Sort(out)
	return out
}

func TestDecodeFixtures(t *testing.T) {
	d := NewDecoder()
	defer d.Close()
	for _, fx := range fixtures(t) {
		t.Run(fx.name, func(t *testing.T) {
			if !cvAvailable && strings.Contains(fx.name, "two") {
				t.Skip("the pure-Go path is not expected to find both codes")
			}
			d.Reset()
			syms, err := d.DecodeAll(load(t, fx.name))
			if err != nil {
				t.Fatal(err)
			}
			want := slices.Sorted(slices.Values(fx.texts))
			if got := texts(syms); !slices.Equal(got, want) && (cvAvailable || len(want) == 0) {
				t.Fatalf("decoded %q, want %q", got, want)
			}
			for _, s := range syms {
				if len(s.Points) < 3 {
					t.Errorf("symbol has %d points, want at least 3", len(s.Points))
				}
			}
		})
	}
}

// TestDecodeCropAndStride checks that a frame given as a sub-image of a
// larger buffer (stride > width) decodes the same.
func TestDecodeCropAndStride(t *testing.T) {
	fx := fixtures(t)[0]
	g := load(t, fx.name)
	big := Gray{Pix: make([]byte, (g.Width+64)*(g.Height+8)), Width: g.Width + 64, Height: g.Height + 8, Stride: g.Width + 64}
	for y := 0; y < g.Height; y++ {
		copy(big.Pix[(y+4)*big.Stride+32:], g.Pix[y*g.Stride:y*g.Stride+g.Width])
	}
	sub := big.Sub(rectXYWH(32, 4, g.Width, g.Height))
	d := NewDecoder()
	defer d.Close()
	syms, err := d.Decode(sub)
	if err != nil {
		t.Fatal(err)
	}
	if got := texts(syms); len(got) != 1 || got[0] != fx.texts[0] {
		t.Fatalf("decoded %q from a strided sub-image, want %q", got, fx.texts)
	}
}

func TestDecodeBadImages(t *testing.T) {
	d := NewDecoder()
	defer d.Close()
	bad := []Gray{
		{},
		{Pix: make([]byte, 10), Width: 10, Height: 10, Stride: 10},
		{Pix: make([]byte, 100), Width: 10, Height: 10, Stride: 5},
		{Pix: make([]byte, 100), Width: -1, Height: 10, Stride: 10},
	}
	for i, g := range bad {
		if _, err := d.Decode(g); err == nil {
			t.Errorf("image %d: Decode accepted %dx%d stride %d with %d bytes", i, g.Width, g.Height, g.Stride, len(g.Pix))
		}
	}
	// Tiny and flat images are valid and hold no code.
	for _, g := range []Gray{
		{Pix: make([]byte, 1), Width: 1, Height: 1, Stride: 1},
		{Pix: make([]byte, 64*64), Width: 64, Height: 64, Stride: 64},
	} {
		syms, err := d.Decode(g)
		if err != nil || len(syms) != 0 {
			t.Errorf("%dx%d flat image: %v, %v", g.Width, g.Height, syms, err)
		}
	}
}

// FuzzDecode feeds arbitrary small images to the decoder: it must never
// panic, whatever the geometry it thinks it sees, and what it reads must be
// a symbol with text. An input is a mode byte, a width byte and the pixels,
// cut at maxFuzzPixels (80 × 80: the smallest image every stage acts on).
// Modes 0-2 run one scan, gozxing's detector and decoder behind our
// luminance source (hybrid, global, and hybrid with the inverted second
// polarity); mode 3 runs the whole cascade. A scan of a noisy 40 × 40 image
// costs about 35 µs and the cascade at 80 × 80 several times that, so most
// inputs take one scan: that keeps the target above a million inputs a
// minute while still fuzzing every stage.
func FuzzDecode(f *testing.F) {
	g := load(f, fixtures(f)[0].name)
	var images []Gray
	for _, r := range [][4]int{{0, 0, 64, 64}, {300, 200, 96, 80}, {500, 300, 80, 80}} {
		images = append(images, g.Sub(rectXYWH(r[0], r[1], r[2], r[3])))
	}
	code := renderQR(f, PayloadPrefix+strings.Repeat("A", TokenLen), 2, 72)
	images = append(images, code)
	for _, c := range images {
		for mode := range byte(fuzzModes) {
			buf := []byte{mode, byte(c.Width - 1)}
			for y := 0; y < c.Height; y++ {
				buf = append(buf, c.Pix[y*c.Stride:y*c.Stride+c.Width]...)
			}
			f.Add(buf)
		}
	}
	f.Add([]byte{3, 2, 0, 255, 0, 255, 0, 255})
	d := NewDecoder()
	sc := newScanner()
	// The rendered seed must decode, so that fuzzing starts from a whole
	// read and not only from the detector's rejections.
	for mode := range byte(fuzzModes) {
		if syms, _ := decodeMode(d, sc, code, mode); len(syms) != 1 {
			f.Fatalf("mode %d: rendered seed gave %d symbols", mode, len(syms))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 3 {
			return
		}
		mode, w, pix := b[0]%fuzzModes, int(b[1])+1, b[2:]
		if len(pix) > maxFuzzPixels {
			pix = pix[:maxFuzzPixels]
		}
		h := len(pix) / w
		if h == 0 {
			return
		}
		syms, err := decodeMode(d, sc, Gray{Pix: pix, Width: w, Height: h, Stride: w}, mode)
		if err != nil {
			if !errors.Is(err, errDecoderFault) {
				t.Fatalf("unexpected error on %dx%d: %v", w, h, err)
			}
			t.Logf("decoder fault contained: %v", err)
			return
		}
		for _, s := range syms {
			if s.Text == "" {
				t.Fatal("empty symbol")
			}
		}
	})
}

const (
	fuzzModes     = 4
	maxFuzzPixels = 80 * 80
)

// decodeMode reads g as FuzzDecode's mode says: one scan (modes 0-2), or
// the cascade on g as a first frame followed by DecodeMore (mode 3).
func decodeMode(d *Decoder, sc *scanner, g Gray, mode byte) ([]Symbol, error) {
	if mode < 3 {
		return scanContained(sc, g, mode)
	}
	d.Reset()
	syms, err := safeDecode(d, g, nil)
	if err != nil || len(syms) == 0 {
		return syms, err
	}
	more, err := safeDecode(d, g, syms)
	return append(syms, more...), err
}

// scanContained is one scan as the cascade runs it, with a panic in gozxing
// contained as safeDecode contains it.
func scanContained(sc *scanner, g Gray, mode byte) (syms []Symbol, err error) {
	defer func() {
		if p := recover(); p != nil {
			syms, err = nil, fmt.Errorf("%w: %v", errDecoderFault, p)
		}
	}()
	bin := BinHybrid
	if mode == 1 {
		bin = BinGlobal
	}
	r, err := sc.scan(g, bin, mode == 2)
	if err != nil {
		return nil, nil // no code, as the cascade treats it
	}
	return []Symbol{symbol(r, 1, Point{})}, nil
}

// renderQR draws text as a QR code of px pixels per module, centred on a
// white side × side image.
func renderQR(t testing.TB, text string, px, side int) Gray {
	t.Helper()
	q, err := qrcode.New(text, qrcode.Low)
	if err != nil {
		t.Fatal(err)
	}
	bm := q.Bitmap()
	if len(bm)*px > side {
		t.Fatalf("%d modules at %d px do not fit in %d px", len(bm), px, side)
	}
	g := Gray{Pix: bytes.Repeat([]byte{255}, side*side), Width: side, Height: side, Stride: side}
	off := (side - len(bm)*px) / 2
	for y, row := range bm {
		for x, dark := range row {
			if !dark {
				continue
			}
			for dy := range px {
				for dx := range px {
					g.Pix[(off+y*px+dy)*side+off+x*px+dx] = 0
				}
			}
		}
	}
	return g
}
