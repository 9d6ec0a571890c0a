// Command soakrun is `make soak`: mixed traffic against intercomd in
// simulation mode for a duration, with its memory and goroutines sampled; it
// fails if either grows over the second half of the run.
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
		fmt.Fprintln(os.Stderr, "soakrun:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	bin := flag.String("intercomd", "bin/intercomd", "the intercomd binary")
	dur := flag.Duration("duration", 10*time.Minute, "how long to soak")
	interval := flag.Duration("interval", 0, "sampling interval (default duration/60, at least 1 s)")
	maxRSS := flag.Float64("max-rss-growth", 4, "largest RssAnon growth (MB) allowed over the second half")
	dir := flag.String("dir", "", "work directory (default: a temporary one, removed on success)")
	flag.Parse()
	keep := *dir != ""
	if *dir == "" {
		d, err := os.MkdirTemp("", "intercomd-soak-")
		if err != nil {
			return err
		}
		*dir = d
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	rep, err := chaos.Soak(ctx, chaos.SoakOptions{Binary: *bin, Dir: *dir, Duration: *dur, Interval: *interval,
		MaxRSSGrowth: *maxRSS, Logger: log})
	if err != nil {
		return err
	}
	rep.Print(os.Stdout)
	if len(rep.Failed) > 0 {
		return fmt.Errorf("soak failed (daemon log: %s/daemon.log)", *dir)
	}
	if !keep {
		os.RemoveAll(*dir)
	}
	return nil
}
