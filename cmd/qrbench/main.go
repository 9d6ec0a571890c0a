// Command qrbench measures the QR decoder on a directory of frames and runs
// zxing-cpp's ZXingReader over the same files for comparison.
//
//	go run ./cmd/qrbench [-workers N] [-zxing ZXingReader] DIR
//
// DIR holds images in one of two layouts: a truth.txt with lines
// "file expected-text", or, without truth.txt, each image NAME.ext beside a
// NAME.txt holding the exact expected text (zxing's test-suite layout).
//
// What is measured, and how. The machine may be shared, so per-frame
// figures are CPU time (getrusage of this process, or of the ZXingReader
// child), which a neighbour's load barely changes; wall-clock twins are
// printed beside them.
//   - qr_ms_mean, qr_ms_p99: CPU time of Decoder.Decode on one frame already
//     in memory as gray bytes (as frames arrive from the camera), one frame
//     at a time, decoder state reset between frames (they are unrelated
//     images, so region-of-interest tracking cannot help). qr_ms_mean_wall
//     and qr_ms_p99_wall are the same in wall time.
//   - qr_ms_mean_all: the same with DecodeAll, which also searches for a
//     second code once one is found (the Reader does this after it has sent
//     the first code's credential; ZXingReader also looks for every code).
//   - qr_set_s: wall time to read (JPEG decode) and decode every file with a
//     pool of -workers decoders (default: one per core): the set's
//     throughput, to compare with qr_set_s_zxingcpp (one process, one core,
//     JPEG decoding included). qr_set_cpu_s and qr_set_cpu_s_zxingcpp are
//     their CPU seconds.
//   - qr_ms_mean_zxingcpp: ZXingReader's CPU time per frame without JPEG
//     decoding: one process over PGM copies of the frames, minus its start
//     (qr_start_ms_zxingcpp, measured on a blank 64x64 image), divided by
//     the frame count. Compare it with qr_ms_mean.
//   - qr_ms_mean_nocode, qr_ms_p99_nocode, qr_false_decodes: the decoder on
//     frames without a code (-neg DIR, or DIR/neg when present), the steady
//     load of a door camera.
//
// ZXingReader runs with -format QRCode: with every format enabled, Debian's
// zxing-cpp 1.4 aborts on some frames (std::out_of_range).
//
// Every figure is also printed as "BENCH name value unit".
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/intercomd/intercomd/reader/qr"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "qrbench:", err)
		os.Exit(1)
	}
}

// stages is the decoder cascade under test; nil means the default.
var stages []qr.Stage

type sample struct {
	path, want string
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("qrbench", flag.ContinueOnError)
	workers := fs.Int("workers", runtime.NumCPU(), "decoders working in parallel for qr_set_s")
	zxing := fs.String("zxing", "ZXingReader", "zxing-cpp's CLI; empty to skip the peer run")
	verbose := fs.Bool("v", false, "list frames that were not decoded correctly")
	neg := fs.String("neg", "", "directory of frames without a code, for qr_ms_mean_nocode (default DIR/neg when present)")
	fs.Func("stages", "comma-separated decoder stages to run instead of the default cascade (for experiments)", func(v string) error {
		stages = nil
		for _, n := range strings.Split(v, ",") {
			st, err := qr.ParseStage(n)
			if err != nil {
				return err
			}
			stages = append(stages, st)
		}
		return nil
	})
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of our decoder's runs to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if fs.NArg() != 1 {
		return errors.New("usage: qrbench [-workers N] [-zxing PATH] [-v] DIR")
	}
	set, err := loadSet(fs.Arg(0))
	if err != nil {
		return err
	}
	if len(set) == 0 {
		return fmt.Errorf("no labelled images in %s", fs.Arg(0))
	}
	r, err := benchOurs(ctx, set, max(*workers, 1), out, *verbose)
	if err != nil {
		return err
	}
	bench(out, "qr_frames", len(set), "frames")
	bench(out, "qr_decoded", r.decoded, "frames")
	bench(out, "qr_ms_mean", fmt.Sprintf("%.2f", r.mean), "ms")
	bench(out, "qr_ms_p99", fmt.Sprintf("%.2f", r.p99), "ms")
	bench(out, "qr_ms_mean_all", fmt.Sprintf("%.2f", r.allMean), "ms")
	bench(out, "qr_ms_mean_wall", fmt.Sprintf("%.2f", r.wallMean), "ms")
	bench(out, "qr_ms_p99_wall", fmt.Sprintf("%.2f", r.wallP99), "ms")
	negDir := *neg
	if negDir == "" {
		if st, err := os.Stat(filepath.Join(fs.Arg(0), "neg")); err == nil && st.IsDir() {
			negDir = filepath.Join(fs.Arg(0), "neg")
		}
	}
	if negDir != "" {
		mean, p99, found, err := benchNegatives(ctx, negDir, out, *verbose)
		if err != nil {
			return err
		}
		bench(out, "qr_ms_mean_nocode", fmt.Sprintf("%.2f", mean), "ms")
		bench(out, "qr_ms_p99_nocode", fmt.Sprintf("%.2f", p99), "ms")
		bench(out, "qr_false_decodes", found, "frames")
	}
	bench(out, "qr_set_s", fmt.Sprintf("%.3f", r.setS), "s")
	bench(out, "qr_set_cpu_s", fmt.Sprintf("%.3f", r.setCPU), "s")
	bench(out, "qr_set_workers", *workers, "workers")
	if *zxing != "" {
		z, err := benchZXing(ctx, *zxing, set, out, *verbose)
		if err != nil {
			fmt.Fprintln(out, "zxing-cpp peer run failed:", err)
		} else {
			bench(out, "qr_decoded_zxingcpp", z.decoded, "frames")
			bench(out, "qr_set_s_zxingcpp", fmt.Sprintf("%.3f", z.setS), "s")
			bench(out, "qr_set_cpu_s_zxingcpp", fmt.Sprintf("%.3f", z.setCPU), "s")
			bench(out, "qr_ms_mean_zxingcpp", fmt.Sprintf("%.2f", z.mean), "ms")
			bench(out, "qr_ms_mean_wall_zxingcpp", fmt.Sprintf("%.2f", z.wallMean), "ms")
			bench(out, "qr_start_ms_zxingcpp", fmt.Sprintf("%.1f", z.startMS), "ms")
		}
	}
	return nil
}

func bench(w io.Writer, name string, v any, unit string) {
	fmt.Fprintf(w, "BENCH %s %v %s\n", name, v, unit)
}

var imageExt = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".bmp": true, ".pgm": true, ".tif": true, ".tiff": true, ".webp": true}

// loadSet reads the labels of dir in either layout.
func loadSet(dir string) ([]sample, error) {
	f, err := os.Open(filepath.Join(dir, "truth.txt"))
	if err == nil {
		defer f.Close()
		return parseTruth(f, dir)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var set []sample
	for _, e := range ents {
		ext := strings.ToLower(filepath.Ext(e.Name()))
		if e.IsDir() || !imageExt[ext] {
			continue
		}
		p := filepath.Join(dir, e.Name())
		want, err := os.ReadFile(strings.TrimSuffix(p, filepath.Ext(p)) + ".txt")
		if errors.Is(err, os.ErrNotExist) {
			continue // unlabelled
		}
		if err != nil {
			return nil, err
		}
		set = append(set, sample{p, string(want)})
	}
	return set, nil
}

// parseTruth reads truth.txt lines "file expected-text"; the text runs to
// the end of the line and may hold spaces. Blank lines and # comments are
// skipped. File names must stay inside dir.
func parseTruth(r io.Reader, dir string) ([]sample, error) {
	var set []sample
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, want, ok := strings.Cut(line, " ")
		if !ok || name == "" || !filepath.IsLocal(name) || filepath.Clean(name) == "." {
			return nil, fmt.Errorf("truth.txt:%d: want \"file expected-text\" with a file inside %s", n, dir)
		}
		set = append(set, sample{filepath.Join(dir, name), want})
	}
	return set, sc.Err()
}

type result struct {
	decoded           int
	mean, p99         float64 // CPU ms per frame, one frame at a time
	wallMean, wallP99 float64 // the same in wall-clock ms
	setCPU            float64 // CPU seconds of the set run
	allMean           float64 // CPU ms per frame of DecodeAll
	setS              float64
	startMS           float64 // zxing-cpp process start, ms
}

func has(syms []qr.Symbol, want string) bool {
	return slices.ContainsFunc(syms, func(s qr.Symbol) bool { return s.Text == want })
}

func benchOurs(ctx context.Context, set []sample, workers int, out io.Writer, verbose bool) (result, error) {
	var r result
	frames := make([]qr.Gray, len(set))
	for i, s := range set {
		g, err := qr.ReadImage(s.path)
		if err != nil {
			return r, err
		}
		frames[i] = g
	}
	// Latency: one decoder, one frame at a time.
	d := qr.NewDecoder(stages...)
	defer d.Close()
	ms := make([]float64, len(set))
	wall := make([]float64, len(set))
	for i, g := range frames {
		if ctx.Err() != nil {
			return r, ctx.Err()
		}
		d.Reset()
		t, c := time.Now(), cpuTime()
		syms, err := d.Decode(g)
		ms[i] = float64((cpuTime() - c).Microseconds()) / 1000
		wall[i] = float64(time.Since(t).Microseconds()) / 1000
		if err != nil {
			return r, fmt.Errorf("%s: %w", set[i].path, err)
		}
		if has(syms, set[i].want) {
			r.decoded++
		} else if verbose {
			fmt.Fprintf(out, "missed %s (%.1f ms)\n", set[i].path, ms[i])
		}
	}
	r.mean, r.p99 = meanP99(ms)
	r.wallMean, r.wallP99 = meanP99(wall)
	fmt.Fprintf(out, "stage hits:")
	for st, n := range d.Hits() {
		fmt.Fprintf(out, " %v=%d", qr.Stage(st), n)
	}
	fmt.Fprintf(out, "; time per stage:")
	for st, t := range d.Spent() {
		fmt.Fprintf(out, " %v=%v", qr.Stage(st), t.Round(time.Millisecond))
	}
	fmt.Fprintln(out)
	// The Reader also looks for a second code once one is found: the full
	// per-frame cost of a frame with a code.
	for i, g := range frames {
		d.Reset()
		c := cpuTime()
		d.DecodeAll(g)
		ms[i] = float64((cpuTime() - c).Microseconds()) / 1000
	}
	r.allMean, _ = meanP99(ms)

	// Throughput: read and decode every file with a pool of decoders.
	t, c := time.Now(), cpuTime()
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			d := qr.NewDecoder(stages...)
			defer d.Close()
			for i := range next {
				g, err := qr.ReadImage(set[i].path)
				if err != nil {
					continue
				}
				d.Reset()
				d.Decode(g)
			}
		})
	}
	for i := range set {
		next <- i
	}
	close(next)
	wg.Wait()
	r.setS = time.Since(t).Seconds()
	r.setCPU = (cpuTime() - c).Seconds()
	return r, nil
}

// benchNegatives measures the decoder on frames without a code, the steady
// load of a door camera.
func benchNegatives(ctx context.Context, dir string, out io.Writer, verbose bool) (mean, p99 float64, found int, err error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, 0, 0, err
	}
	d := qr.NewDecoder(stages...)
	defer d.Close()
	var ms []float64
	for _, e := range ents {
		if e.IsDir() || !imageExt[strings.ToLower(filepath.Ext(e.Name()))] || ctx.Err() != nil {
			continue
		}
		g, err := qr.ReadImage(filepath.Join(dir, e.Name()))
		if err != nil {
			return 0, 0, 0, err
		}
		d.Reset()
		before := d.Spent()
		c := cpuTime()
		syms, _ := d.Decode(g)
		ms = append(ms, float64((cpuTime()-c).Microseconds())/1000)
		if verbose && ms[len(ms)-1] > 30 {
			fmt.Fprintf(out, "slow negative %s %.1f ms:", e.Name(), ms[len(ms)-1])
			for st, t := range d.Spent() {
				fmt.Fprintf(out, " %v=%v", qr.Stage(st), (t - before[st]).Round(time.Millisecond))
			}
			fmt.Fprintln(out)
		}
		if len(syms) > 0 {
			found++
		}
	}
	mean, p99 = meanP99(ms)
	fmt.Fprintf(out, "negatives: time per stage:")
	for st, t := range d.Spent() {
		fmt.Fprintf(out, " %v=%v", qr.Stage(st), t.Round(time.Millisecond))
	}
	fmt.Fprintln(out)
	return mean, p99, found, ctx.Err()
}

func meanP99(ms []float64) (mean, p99 float64) {
	if len(ms) == 0 {
		return 0, 0
	}
	s := slices.Clone(ms)
	slices.Sort(s)
	for _, v := range s {
		mean += v
	}
	return mean / float64(len(s)), s[min(len(s)-1, int(float64(len(s))*0.99))]
}

// benchZXing runs ZXingReader once over the original files and once over PGM
// copies, each as one process.
func benchZXing(ctx context.Context, bin string, set []sample, out io.Writer, verbose bool) (result, error) {
	var r result
	paths := make([]string, len(set))
	for i, s := range set {
		paths[i] = s.path
	}
	got, secs, cpu, err := runZXing(ctx, bin, paths)
	if err != nil {
		return r, err
	}
	r.setS, r.setCPU = secs, cpu
	for _, s := range set {
		if slices.Contains(got[s.path], s.want) {
			r.decoded++
		} else if verbose {
			fmt.Fprintf(out, "zxing-cpp missed %s\n", s.path)
		}
	}
	tmp, err := os.MkdirTemp("", "qrbench")
	if err != nil {
		return r, err
	}
	defer os.RemoveAll(tmp)
	blank := filepath.Join(tmp, "blank.pgm")
	if err := writePGM(blank, qr.Gray{Pix: make([]byte, 64*64), Width: 64, Height: 64, Stride: 64}); err != nil {
		return r, err
	}
	start := time.Duration(1 << 62)
	for range 5 {
		_, _, cpu, err := runZXing(ctx, bin, []string{blank})
		if err != nil {
			return r, err
		}
		start = min(start, time.Duration(cpu*float64(time.Second)))
	}
	r.startMS = float64(start.Microseconds()) / 1000
	pgms := make([]string, len(set))
	for i, s := range set {
		g, err := qr.ReadImage(s.path)
		if err != nil {
			return r, err
		}
		pgms[i] = filepath.Join(tmp, fmt.Sprintf("%04d.pgm", i))
		if err := writePGM(pgms[i], g); err != nil {
			return r, err
		}
	}
	_, secs, cpu, err = runZXing(ctx, bin, pgms)
	if err != nil {
		return r, err
	}
	r.mean = max(0, cpu*1000-r.startMS) / float64(len(set))
	r.wallMean = max(0, secs*1000-r.startMS) / float64(len(set))
	return r, nil
}

// runZXing returns the texts ZXingReader found per file, its wall time and
// its CPU time, in seconds.
func runZXing(ctx context.Context, bin string, paths []string) (map[string][]string, float64, float64, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"-1", "-format", "QRCode"}, paths...)...)
	var stdout strings.Builder
	cmd.Stdout = &stdout
	t := time.Now()
	err := cmd.Run()
	secs := time.Since(t).Seconds()
	if err != nil {
		return nil, 0, 0, fmt.Errorf("%s: %w", bin, err)
	}
	cpu := (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()
	// Lines are "PATH FORMAT \"TEXT\"" or "PATH None"; paths may hold spaces,
	// so match the longest known path prefix.
	byLen := slices.Clone(paths)
	slices.SortFunc(byLen, func(a, b string) int { return len(b) - len(a) })
	got := make(map[string][]string)
	for line := range strings.Lines(stdout.String()) {
		line = strings.TrimRight(line, "\n")
		for _, p := range byLen {
			rest, ok := strings.CutPrefix(line, p+" ")
			if !ok {
				continue
			}
			if _, txt, ok := strings.Cut(rest, " "); ok && len(txt) >= 2 && txt[0] == '"' && txt[len(txt)-1] == '"' {
				got[p] = append(got[p], txt[1:len(txt)-1])
			}
			break
		}
	}
	return got, secs, cpu, nil
}

// cpuTime is the CPU time used by this process so far. Per-frame figures are
// CPU time because the machine is shared: wall time measures the neighbours.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func writePGM(path string, g qr.Gray) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	fmt.Fprintf(w, "P5\n%d %d\n255\n", g.Width, g.Height)
	for y := 0; y < g.Height; y++ {
		w.Write(g.Pix[y*g.Stride : y*g.Stride+g.Width])
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
