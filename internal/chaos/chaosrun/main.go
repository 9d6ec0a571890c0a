// Command chaosrun is `make chaos`: it runs the chaos harness
// (internal/chaos) against a private mosquitto and the intercomd binary in
// simulation mode, prints the BENCH figures and fails if any check failed or
// any event was lost.
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
	iterations := flag.Int("iterations", 200, "rounds")
	dir := flag.String("dir", "", "work directory (default: a fresh temporary one, removed on success)")
	seed := flag.Uint64("seed", 0, "random seed (default: from the clock)")
	visits := flag.Int("visits", 300, "visits in the cloud at the start")
	maxPause := flag.Duration("max-pause", 30*time.Second, "longest broker freeze (SIGSTOP)")
	verbose := flag.Bool("v", false, "log every iteration")
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
	rep, err := chaos.Run(ctx, chaos.Options{Binary: *bin, Dir: *dir, Iterations: *iterations, Seed: *seed,
		Visits: *visits, MaxPause: *maxPause, Logger: log})
	if err != nil {
		return err
	}
	rep.Print(os.Stdout)
	fmt.Printf("chaos: %d iterations in %v; work dir %s\n", rep.Iterations, time.Since(start).Round(time.Second), *dir)
	if rep.Failures > 0 || rep.EventsLost > 0 || rep.Iterations < *iterations {
		return fmt.Errorf("%d failures, %d events lost, %d of %d iterations (daemon log: %s/daemon.log)",
			rep.Failures, rep.EventsLost, rep.Iterations, *iterations, *dir)
	}
	if !keep {
		os.RemoveAll(*dir)
	}
	return nil
}
