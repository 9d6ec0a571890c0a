//go:build cgo && !nocamera

package qr_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/intercomd/intercomd/reader/qr"
	"github.com/intercomd/intercomd/reader/qr/qrtest"
)

// BenchmarkDecodeSynthetic measures the decoder on synthetic frames of
// another make than the shared set: per-frame latency on frames without a
// code (the steady load of a door camera) and with one, and the share
// decoded. It ignores b.N and prints BENCH lines.
func BenchmarkDecodeSynthetic(b *testing.B) {
	rng := rand.New(rand.NewPCG(99, 7))
	var neg, pos []qr.Gray
	var want []string
	for i := range 40 {
		s := qrtest.Random(rng, 1280, 720)
		g, err := qrtest.Render(s)
		if err != nil {
			b.Fatal(err)
		}
		neg = append(neg, g)
		tok := fmt.Sprintf("VK1:%032x", rng.Uint64())
		g, err = qrtest.Render(qrtest.Random(rng, 1280, 720, tok))
		if err != nil {
			b.Fatal(err)
		}
		pos = append(pos, g)
		want = append(want, tok)
		_ = i
	}
	d := qr.NewDecoder()
	defer d.Close()
	run := func(frames []qr.Gray) (ms []float64, ok int) {
		for pass := range 3 {
			for i, g := range frames {
				d.Reset()
				t := time.Now()
				syms, err := d.Decode(g)
				ms = append(ms, float64(time.Since(t).Microseconds())/1000)
				if err != nil {
					b.Fatal(err)
				}
				if pass == 0 && want != nil && len(syms) > 0 && syms[0].Text == want[i] {
					ok++
				}
				if want == nil && len(syms) > 0 {
					b.Fatalf("decoded %q from a frame without a code", syms[0].Text)
				}
			}
		}
		return ms, ok
	}
	saved := want
	want = nil
	nms, _ := run(neg)
	want = saved
	pms, ok := run(pos)
	pr := func(name string, ms []float64) {
		slices.Sort(ms)
		sum := 0.0
		for _, v := range ms {
			sum += v
		}
		fmt.Printf("BENCH %s_mean %.2f ms\n", name, sum/float64(len(ms)))
		fmt.Printf("BENCH %s_p99 %.2f ms\n", name, ms[len(ms)*99/100])
	}
	pr("qr_synth_ms_nocode", nms)
	pr("qr_synth_ms_code", pms)
	fmt.Printf("BENCH qr_synth_decoded_pct %.0f %%\n", 100*float64(ok)/float64(len(pos)))
}
