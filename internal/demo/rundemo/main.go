// Command rundemo is `make demo`: it starts a private mosquitto, intercomd in
// simulation mode (the binary given by -intercomd) and the cloud stand-in,
// plays the scripted visit and prints its timeline. It exits 0 only if every
// step matched.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/intercomd/intercomd/internal/demo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	bin := flag.String("intercomd", "bin/intercomd", "the intercomd binary")
	keep := flag.Bool("keep", false, "keep the demo's directory (logs, database)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "intercomd-demo-")
	if err != nil {
		return err
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	s, err := demo.Prepare(dir)
	if err != nil {
		return err
	}
	defer s.Close()
	fmt.Printf("mosquitto on %s; intercomd --sim --config %s\n\n", s.Broker.URL(), s.Config)

	cloud, err := s.Cloud(ctx)
	if err != nil {
		return err
	}
	defer cloud.Close()

	logf, err := os.Create(filepath.Join(dir, "intercomd.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.CommandContext(ctx, *bin, "--sim", "--config", s.Config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start intercomd: %w", err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	ctl, err := s.WaitSocket(ctx, 30*time.Second)
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, logf.Name())
	}
	_, err = demo.Play(ctx, demo.Env{Device: s.Device, Ctl: ctl, Cloud: cloud, Out: os.Stdout})
	if err != nil && *keep {
		fmt.Printf("intercomd log: %s\n", logf.Name())
	}
	return err
}
