// Command gen writes synthetic camera frames with QR codes (see package
// qrtest): the unit-test fixtures in testdata/qr, or a benchmark set of a
// make other than the shared one.
//
//	go run ./testdata/qr/gen -fixtures testdata/qr
//	go run ./testdata/qr/gen -n 200 -neg 100 -seed 7 /tmp/qrset
//
// A set gets truth.txt ("file expected-text", the qrbench layout) for its
// positive frames and a neg/ directory of frames without a code.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/intercomd/intercomd/reader/qr/qrtest"
)

func main() {
	fixtures := flag.Bool("fixtures", false, "write the unit-test fixtures into DIR")
	n := flag.Int("n", 100, "positive frames")
	neg := flag.Int("neg", 50, "frames without a code, in DIR/neg")
	seed := flag.Uint64("seed", 1, "random seed")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: gen [-fixtures] [-n N] [-neg N] [-seed S] DIR")
		os.Exit(2)
	}
	var err error
	if *fixtures {
		err = writeFixtures(flag.Arg(0))
	} else {
		err = writeSet(flag.Arg(0), *n, *neg, *seed)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// token derives a visit-key token from a label, so fixtures are stable.
func token(label string) string {
	s := sha256.Sum256([]byte(label))
	return "VK1:" + hex.EncodeToString(s[:16])
}

func writeSet(dir string, n, neg int, seed uint64) error {
	if err := os.MkdirAll(filepath.Join(dir, "neg"), 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 1))
	var truth strings.Builder
	for i := range n {
		text := token(fmt.Sprintf("set-%d-%d", seed, i))
		name := fmt.Sprintf("s%03d.jpg", i)
		if err := write(filepath.Join(dir, name), qrtest.Random(rng, 1280, 720, text)); err != nil {
			return err
		}
		fmt.Fprintf(&truth, "%s %s\n", name, text)
	}
	for i := range neg {
		if err := write(filepath.Join(dir, "neg", fmt.Sprintf("n%03d.jpg", i)), qrtest.Random(rng, 1280, 720)); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, "truth.txt"), []byte(truth.String()), 0o644)
}

func write(path string, s qrtest.Scene) error {
	g, err := qrtest.Render(s)
	if err != nil {
		return err
	}
	return qrtest.WriteJPEG(path, g, 85)
}

// writeFixtures writes the committed fixtures and cases.txt, whose lines are
// "file text..." with "-" for a frame without a code. Only single visit-key
// frames go into truth.txt, so qrbench can run on the directory.
func writeFixtures(dir string) error {
	rng := rand.New(rand.NewPCG(20261203, 5))
	type fixture struct {
		name  string
		texts []string
		tweak func(*qrtest.Scene)
	}
	fx := []fixture{
		{"pos_plain.jpg", []string{token("plain")}, func(s *qrtest.Scene) {
			s.Glare, s.Blur, s.Contrast, s.Brightness = 0, 0.5, 0.9, 0
			s.Codes[0].Perspective, s.Codes[0].Inverted = 0.02, false
		}},
		{"pos_small_tilted.jpg", []string{token("small")}, func(s *qrtest.Scene) {
			s.Codes[0].Size, s.Codes[0].Angle, s.Codes[0].Perspective, s.Codes[0].Inverted = 120, 33, 0.1, false
		}},
		{"pos_dim_blur.jpg", []string{token("dim")}, func(s *qrtest.Scene) {
			s.Contrast, s.Brightness, s.Blur, s.Glare = 0.35, -60, 1.4, 0
			s.Codes[0].Inverted = false
		}},
		{"pos_glare.jpg", []string{token("glare")}, func(s *qrtest.Scene) {
			s.Glare, s.Contrast = 0.8, 0.8
			s.Codes[0].Inverted = false
		}},
		{"pos_dark_mode.jpg", []string{token("dark")}, func(s *qrtest.Scene) { s.Codes[0].Inverted = true; s.Glare = 0 }},
		{"neg_scene.jpg", nil, nil},
		{"neg_busy.jpg", nil, func(s *qrtest.Scene) { s.Contrast = 1.1 }},
		{"url_code.jpg", []string{"https://example.com/visit?id=42"}, func(s *qrtest.Scene) { s.Codes[0].Inverted = false }},
		{"two_codes.jpg", []string{token("two-a"), token("two-b")}, func(s *qrtest.Scene) {
			s.Glare, s.Blur = 0, 0.6
			for i := range s.Codes {
				s.Codes[i].Inverted = false
				s.Codes[i].Size = 170
			}
		}},
	}
	var cases, truth strings.Builder
	for _, f := range fx {
		s := qrtest.Random(rng, 1280, 720, f.texts...)
		if f.tweak != nil {
			f.tweak(&s)
		}
		if err := write(filepath.Join(dir, f.name), s); err != nil {
			return err
		}
		texts := strings.Join(f.texts, " ")
		if texts == "" {
			texts = "-"
		}
		fmt.Fprintf(&cases, "%s %s\n", f.name, texts)
		if len(f.texts) == 1 && strings.HasPrefix(f.texts[0], "VK1:") {
			fmt.Fprintf(&truth, "%s %s\n", f.name, f.texts[0])
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "cases.txt"), []byte(cases.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "truth.txt"), []byte(truth.String()), 0o644)
}
