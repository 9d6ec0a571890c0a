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
	visitctl := flag.String("visitctl", "bin/visitctl", "the visitctl binary (the cloud stand-in)")
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
	fmt.Printf("mosquitto on %s\n", s.Broker.URL())

	// The cloud stand-in serves snapshots from its state file, as a real
	// cloud is always up; create, delete and unlock are visitctl commands.
	serve := exec.CommandContext(ctx, *visitctl, append(s.VisitctlArgs(), "serve")...)
	servelog, err := os.Create(filepath.Join(dir, "visitctl-serve.log"))
	if err != nil {
		return err
	}
	defer servelog.Close()
	serve.Stdout, serve.Stderr = servelog, servelog
	serve.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := serve.Start(); err != nil {
		return fmt.Errorf("start visitctl serve: %w", err)
	}
	defer func() {
		serve.Process.Signal(syscall.SIGTERM)
		serve.Wait()
	}()
	fmt.Printf("visitctl serve --state %s\n", s.State)

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
	fmt.Printf("intercomd --sim --config %s\n\n", s.Config)
	ctl, err := s.WaitSocket(ctx, 30*time.Second)
	if err != nil {
		return fmt.Errorf("%w (log: %s)", err, logf.Name())
	}
	cloud := demo.CLI{Bin: *visitctl, Global: s.VisitctlArgs()}
	_, err = demo.Play(ctx, demo.Env{Device: s.Device, Ctl: ctl, Cloud: cloud, Out: os.Stdout})
	if err != nil && *keep {
		fmt.Printf("intercomd log: %s\n", logf.Name())
	}
	return err
}
