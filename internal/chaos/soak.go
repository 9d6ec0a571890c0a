package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/internal/demo"
	"github.com/intercomd/intercomd/internal/mqtttest"
	"github.com/intercomd/intercomd/localapi"
	"github.com/intercomd/intercomd/sync/cloudsim"
	"github.com/intercomd/intercomd/sync/wire"
)

// SoakOptions configure Soak. Zero values mean the documented defaults.
type SoakOptions struct {
	Binary   string        // the intercomd binary (required)
	Dir      string        // work directory (required)
	Duration time.Duration // default 10 min
	// Interval between samples; default Duration/60, at least 1 s.
	Interval time.Duration
	// MaxRSSGrowth is the largest RssAnon growth allowed over the second
	// half of the run, by the regression line (default 4 MiB).
	MaxRSSGrowth float64
	// MaxGoroutineGrowth likewise for goroutines (default 10).
	MaxGoroutineGrowth float64
	Logger             *slog.Logger
}

// Sample is one measurement of the daemon.
type Sample struct {
	At         time.Duration // since the start
	RSSAnonMB  float64
	Goroutines float64
}

// SoakReport is the outcome of a soak.
type SoakReport struct {
	Samples         []Sample
	RSSSlope        float64 // MB per hour over the second half
	RSSGrowth       float64 // MB over the second half, by the regression line
	GoroutineSlope  float64 // per hour over the second half
	GoroutineGrowth float64
	Decisions       int64
	Inputs          int64
	Failed          []string
}

// Soak runs mixed traffic (cards, PINs, QR codes, web unlocks, visits
// created and deleted) against the daemon in simulation mode for the
// duration, sampling its anonymous RSS (/proc/<pid>/status) and goroutines
// (go_goroutines on its metrics endpoint).
func Soak(ctx context.Context, opt SoakOptions) (*SoakReport, error) {
	if opt.Binary == "" || opt.Dir == "" {
		return nil, errors.New("chaos: soak: Binary and Dir are required")
	}
	if opt.Duration <= 0 {
		opt.Duration = 10 * time.Minute
	}
	if opt.Interval <= 0 {
		opt.Interval = max(time.Second, opt.Duration/60)
	}
	if opt.MaxRSSGrowth <= 0 {
		opt.MaxRSSGrowth = 4
	}
	if opt.MaxGoroutineGrowth <= 0 {
		opt.MaxGoroutineGrowth = 10
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opt.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("chaos: soak: %w", err)
	}
	s, err := demo.Prepare(opt.Dir)
	if err != nil {
		return nil, fmt.Errorf("chaos: soak: %w", err)
	}
	defer s.Close()
	port, err := mqtttest.FreePort()
	if err != nil {
		return nil, err
	}
	metricsURL := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	cfg, _ := os.ReadFile(s.Config)
	cfg = append(cfg, fmt.Sprintf("\n[metrics]\nlisten = \"127.0.0.1:%d\"\n", port)...)
	if err := os.WriteFile(s.Config, cfg, 0o600); err != nil {
		return nil, err
	}
	hasher, err := access.NewHasher(s.SiteKey)
	if err != nil {
		return nil, err
	}
	cloud, err := cloudsim.Dial(ctx, cloudsim.Options{Broker: s.Broker.URL(), Hasher: hasher, State: cloudsim.NewState()})
	if err != nil {
		return nil, fmt.Errorf("chaos: soak: cloud: %w", err)
	}
	defer cloud.Close()
	logf, err := os.Create(filepath.Join(opt.Dir, "daemon.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close()
	cmd := exec.Command(opt.Binary, "--sim", "--config", s.Config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("chaos: soak: start intercomd: %w", err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
		}
	}()
	ctl, err := s.WaitSocket(ctx, 30*time.Second)
	if err != nil {
		return nil, err
	}

	rep := &SoakReport{}
	var visits sync.Mutex
	var live []*cloudsim.Visit
	newVisit := func() {
		now := time.Now()
		v, err := cloud.Create(cloudsim.Spec{Intercoms: []string{s.Device}, Start: now.Add(-time.Minute), End: now.Add(48 * time.Hour),
			GenPIN: true, GenQR: true, GenWeb: true, GenCard: true})
		if err == nil {
			visits.Lock()
			live = append(live, v)
			visits.Unlock()
		}
	}
	for range 50 {
		newVisit()
	}
	var inputs atomic.Int64
	tctx, stop := context.WithTimeout(ctx, opt.Duration)
	defer stop()
	var wg sync.WaitGroup
	traffic := func(seed uint64) {
		rng := rand.New(rand.NewPCG(seed, seed*31+1))
		for tctx.Err() == nil {
			visits.Lock()
			v := live[rng.IntN(len(live))]
			visits.Unlock()
			var err error
			switch op := rng.IntN(10); {
			case op < 3:
				err = ctl.Sim(tctx, localapi.SimRequest{Kind: localapi.SimCard, Card: v.Secrets.Card})
			case op < 6:
				err = ctl.Sim(tctx, localapi.SimRequest{Kind: localapi.SimPIN, PIN: v.Secrets.PIN})
			case op < 7:
				err = ctl.Sim(tctx, localapi.SimRequest{Kind: localapi.SimQR, QR: "VK1:" + v.Secrets.QRToken})
			case op < 8:
				cctx, cancel := context.WithTimeout(tctx, 10*time.Second)
				_, err = cloud.Command(cctx, s.Device, wire.Command{Type: wire.CmdWebUnlock, VisitID: v.ID, Token: v.Secrets.WebToken})
				cancel()
			case op < 9:
				newVisit()
			default:
				visits.Lock()
				if len(live) > 30 {
					i := rng.IntN(len(live))
					id := live[i].ID
					live = append(live[:i], live[i+1:]...)
					visits.Unlock()
					err = cloud.Delete(id)
				} else {
					visits.Unlock()
				}
			}
			if err == nil {
				inputs.Add(1)
			}
			sleep(tctx, time.Duration(50+rng.IntN(150))*time.Millisecond)
		}
	}
	for i := range 2 {
		wg.Go(func() { traffic(uint64(i + 1)) })
	}

	start := time.Now()
	sample := func() {
		rss, err := rssAnonMB(cmd.Process.Pid)
		if err != nil {
			rep.Failed = append(rep.Failed, err.Error())
			return
		}
		g, _ := scrape(ctx, metricsURL, "go_goroutines")
		rep.Samples = append(rep.Samples, Sample{At: time.Since(start), RSSAnonMB: rss, Goroutines: g})
		opt.Logger.Info("soak: sample", "at", time.Since(start).Round(time.Second), "rss_anon_mb", fmt.Sprintf("%.1f", rss), "goroutines", g)
	}
	t := time.NewTicker(opt.Interval)
	defer t.Stop()
	sample()
	for tctx.Err() == nil {
		select {
		case <-tctx.Done():
		case <-t.C:
			sample()
		}
	}
	wg.Wait()
	sample()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	dec, _ := scrape(context.Background(), metricsURL, "intercomd_decisions_total")
	rep.Decisions = int64(dec)
	rep.Inputs = inputs.Load()
	half := rep.Samples[len(rep.Samples)/2:]
	span := (half[len(half)-1].At - half[0].At).Hours()
	rep.RSSSlope = slope(half, func(s Sample) float64 { return s.RSSAnonMB })
	rep.GoroutineSlope = slope(half, func(s Sample) float64 { return s.Goroutines })
	rep.RSSGrowth, rep.GoroutineGrowth = rep.RSSSlope*span, rep.GoroutineSlope*span
	if rep.RSSGrowth > opt.MaxRSSGrowth {
		rep.Failed = append(rep.Failed, fmt.Sprintf("RssAnon grew %.1f MB over the second half (%.1f MB/h), more than %.1f MB", rep.RSSGrowth, rep.RSSSlope, opt.MaxRSSGrowth))
	}
	if rep.GoroutineGrowth > opt.MaxGoroutineGrowth {
		rep.Failed = append(rep.Failed, fmt.Sprintf("goroutines grew by %.1f over the second half, more than %.0f", rep.GoroutineGrowth, opt.MaxGoroutineGrowth))
	}
	if rep.Decisions == 0 {
		rep.Failed = append(rep.Failed, "no decisions were made: the traffic did not reach the daemon")
	}
	return rep, nil
}

// slope is the least-squares slope of f over the samples, per hour.
func slope(ss []Sample, f func(Sample) float64) float64 {
	if len(ss) < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	n := float64(len(ss))
	for _, s := range ss {
		x, y := s.At.Hours(), f(s)
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// rssAnonMB reads RssAnon from /proc/<pid>/status: the heap and stacks,
// without the page cache of the mapped database.
func rssAnonMB(pid int) (float64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("chaos: soak: %w", err)
	}
	defer f.Close()
	return parseRSSAnon(f)
}

func parseRSSAnon(r io.Reader) (float64, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("chaos: soak: RssAnon line %q", sc.Text())
			}
			kb, err := strconv.ParseFloat(f[0], 64)
			if err != nil {
				return 0, fmt.Errorf("chaos: soak: RssAnon: %w", err)
			}
			return kb / 1024, nil
		}
	}
	return 0, errors.New("chaos: soak: no RssAnon in status")
}

// scrape sums the samples of a metric family on a Prometheus text endpoint.
func scrape(ctx context.Context, url, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("chaos: soak: metrics: %w", err)
	}
	defer resp.Body.Close()
	return sumMetric(resp.Body, name)
}

func sumMetric(r io.Reader, name string) (float64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var sum float64
	found := false
	for sc.Scan() {
		l := sc.Text()
		if !strings.HasPrefix(l, name) {
			continue
		}
		rest := l[len(name):]
		if rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		f := strings.Fields(rest) // value, then an optional timestamp
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	if !found {
		return 0, fmt.Errorf("chaos: soak: no metric %s", name)
	}
	return sum, nil
}

// Print writes the soak's BENCH lines.
func (r *SoakReport) Print(w io.Writer) {
	first, last := r.Samples[0], r.Samples[len(r.Samples)-1]
	fmt.Fprintf(w, "BENCH soak_rss_start %.1f MB\n", first.RSSAnonMB)
	fmt.Fprintf(w, "BENCH soak_rss_end %.1f MB\n", last.RSSAnonMB)
	fmt.Fprintf(w, "BENCH soak_rss_slope %.2f MB/h\n", r.RSSSlope)
	fmt.Fprintf(w, "BENCH soak_goroutines_start %.0f goroutines\n", first.Goroutines)
	fmt.Fprintf(w, "BENCH soak_goroutines_end %.0f goroutines\n", last.Goroutines)
	fmt.Fprintf(w, "BENCH soak_decisions %d decisions\n", r.Decisions)
	fmt.Fprintf(w, "soak: %d samples over %v, %d inputs; second half: RssAnon %+.2f MB, goroutines %+.1f\n",
		len(r.Samples), last.At.Round(time.Second), r.Inputs, r.RSSGrowth, r.GoroutineGrowth)
	for _, f := range r.Failed {
		fmt.Fprintln(w, "soak: FAIL", f)
	}
}
