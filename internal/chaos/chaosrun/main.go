// Command chaosrun is `make chaos` and `make soak`. By default it runs the
// chaos harness (internal/chaos) against a private mosquitto and the
// intercomd binary in simulation mode, prints the BENCH figures and fails if
// any check failed or any event was lost. With -soak DURATION it runs mixed
// traffic instead, samples the daemon's memory and goroutines, and fails if
// either grows over the second half of the run.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/intercomd/intercomd/internal/chaos"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "chaosrun:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	bin := flag.String("intercomd", "bin/intercomd", "the intercomd binary")
	dir := flag.String("dir", "", "work directory (default: a fresh temporary one, removed on success)")
	verbose := flag.Bool("v", false, "log every iteration or sample")
	iterations := flag.Int("iterations", 200, "chaos: rounds")
	seed := flag.Uint64("seed", 0, "chaos: random seed (default: from the clock)")
	visits := flag.Int("visits", 300, "chaos: visits in the cloud at the start")
	maxPause := flag.Duration("max-pause", 30*time.Second, "chaos: longest broker freeze (SIGSTOP)")
	soak := flag.Duration("soak", 0, "soak for this long instead of chaos")
	interval := flag.Duration("interval", 0, "soak: sampling interval (default duration/60, at least 1 s)")
	maxRSS := flag.Float64("max-rss-growth", 4, "soak: largest RssAnon growth (MB) allowed over the second half")
	flag.Parse()
	keep := *dir != ""
	if *dir == "" {
		d, err := os.MkdirTemp("", "intercomd-chaos-")
		if err != nil {
			return err
		}
		*dir = d
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	start := time.Now()
	var failed error
	if *soak > 0 {
		rep, err := chaos.Soak(ctx, chaos.SoakOptions{Binary: *bin, Dir: *dir, Duration: *soak, Interval: *interval,
			MaxRSSGrowth: *maxRSS, Logger: log})
		if err != nil {
			return err
		}
		rep.Print(os.Stdout)
		if len(rep.Failed) > 0 {
			failed = fmt.Errorf("soak failed (daemon log: %s/daemon.log)", *dir)
		}
	} else {
		rep, err := chaos.Run(ctx, chaos.Options{Binary: *bin, Dir: *dir, Iterations: *iterations, Seed: *seed,
			Visits: *visits, MaxPause: *maxPause, Logger: log})
		if err != nil {
			return err
		}
		rep.Print(os.Stdout)
		fmt.Printf("chaos: %d iterations in %v; work dir %s\n", rep.Iterations, time.Since(start).Round(time.Second), *dir)
		if rep.Failures > 0 || rep.EventsLost > 0 || rep.Iterations < *iterations {
			failed = fmt.Errorf("%d failures, %d events lost, %d of %d iterations (daemon log: %s/daemon.log)",
				rep.Failures, rep.EventsLost, rep.Iterations, *iterations, *dir)
		}
	}
	if failed != nil {
		return failed
	}
	if !keep {
		os.RemoveAll(*dir)
	}
	return nil
}
