package serialporttest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// Pair is one pseudo-terminal: Master is the far end of the "cable",
// SlavePath the device the code under test opens.
type Pair struct {
	Master    *os.File
	SlavePath string
	tty       *os.File // held open so the slave keeps its raw settings
}

// OpenPair creates a pty pair with the slave in raw mode.
func OpenPair() (*Pair, error) {
	m, tty, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("serialporttest: open pty: %w", err)
	}
	p := &Pair{SlavePath: tty.Name(), tty: tty}
	// pty.Open leaves the master blocking (it calls Fd); a blocking fd cannot
	// be interrupted by Close. Re-open it as a non-blocking, pollable file.
	fd, err := unix.Dup(int(m.Fd()))
	_ = m.Close()
	if err != nil {
		_ = tty.Close()
		return nil, fmt.Errorf("serialporttest: dup pty master: %w", err)
	}
	unix.CloseOnExec(fd)
	if err := unix.SetNonblock(fd, true); err != nil {
		_ = unix.Close(fd)
		_ = tty.Close()
		return nil, fmt.Errorf("serialporttest: pty master non-blocking: %w", err)
	}
	p.Master = os.NewFile(uintptr(fd), "/dev/ptmx")
	if err := makeRaw(int(tty.Fd())); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("serialporttest: raw mode on %s: %w", p.SlavePath, err)
	}
	return p, nil
}

func makeRaw(fd int) error {
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return unix.IoctlSetTermios(fd, unix.TCSETS, t)
}

// Close closes both ends. A reader that has the slave open then sees its port
// vanish (its Read fails).
func (p *Pair) Close() error {
	var errs []error
	if p.Master != nil {
		errs = append(errs, p.Master.Close())
	}
	if p.tty != nil {
		errs = append(errs, p.tty.Close())
	}
	return errors.Join(errs...)
}

// Link is a stable device path that points at the current pty pair, so that
// unplugging and replugging a device can be simulated.
type Link struct {
	Path string // the symlink to open, e.g. <dir>/ttyTD63

	mu      sync.Mutex
	pair    *Pair
	gen     int
	plugged chan struct{} // closed and replaced by every Replug
}

// NewLink creates a pty pair and a symlink at path pointing at its slave.
// path must not exist yet.
func NewLink(path string) (*Link, error) {
	l := &Link{Path: path, plugged: make(chan struct{})}
	if _, err := l.Replug(); err != nil {
		return nil, err
	}
	return l, nil
}

// Master returns the current far end, or nil while unplugged.
func (l *Link) Master() *os.File {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pair == nil {
		return nil
	}
	return l.pair.Master
}

// SlavePath returns the pty the symlink points at, or "" while unplugged.
func (l *Link) SlavePath() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.pair == nil {
		return ""
	}
	return l.pair.SlavePath
}

// Unplug removes the symlink and closes the current pair: an open reader's
// Read fails, and reopening the path fails with fs.ErrNotExist until Replug.
func (l *Link) Unplug() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.unplugLocked()
}

func (l *Link) unplugLocked() error {
	if l.pair == nil {
		return nil
	}
	err := os.Remove(l.Path)
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	err = errors.Join(err, l.pair.Close())
	l.pair = nil
	if err != nil {
		return fmt.Errorf("serialporttest: unplug %s: %w", l.Path, err)
	}
	return nil
}

// Replug unplugs the current pair if any, creates a new one and atomically
// points the symlink at it. It returns the new far end.
func (l *Link) Replug() (*os.File, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.unplugLocked(); err != nil {
		return nil, err
	}
	p, err := OpenPair()
	if err != nil {
		return nil, err
	}
	l.gen++
	tmp := fmt.Sprintf("%s.%d.tmp", l.Path, l.gen)
	_ = os.Remove(tmp)
	if err := os.Symlink(p.SlavePath, tmp); err != nil {
		_ = p.Close()
		return nil, fmt.Errorf("serialporttest: link %s: %w", l.Path, err)
	}
	if err := os.Rename(tmp, filepath.Clean(l.Path)); err != nil {
		_ = os.Remove(tmp)
		_ = p.Close()
		return nil, fmt.Errorf("serialporttest: link %s: %w", l.Path, err)
	}
	l.pair = p
	close(l.plugged)
	l.plugged = make(chan struct{})
	return p.Master, nil
}

// Attach runs attach on the current far end, and again on each new far end
// after every Replug, until ctx ends; it returns nil then. attach should
// return when its master fails (the link was unplugged) or ctx ends; its
// errors are not fatal, as an unplug is expected. td63sim.Keypad.Run has the
// right shape: link.Attach(ctx, func(ctx, m) error { return kp.Run(ctx, m) }).
func (l *Link) Attach(ctx context.Context, attach func(context.Context, *os.File) error) error {
	var last *os.File
	for {
		l.mu.Lock()
		var m *os.File
		if l.pair != nil {
			m = l.pair.Master
		}
		next := l.plugged
		l.mu.Unlock()
		if m != nil && m != last {
			last = m
			_ = attach(ctx, m)
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-next:
		}
	}
}

// Close unplugs the link for good.
func (l *Link) Close() error { return l.Unplug() }
