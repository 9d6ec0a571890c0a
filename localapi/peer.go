package localapi

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Peer is the process at the other end of a connection, as the kernel saw it
// at connect time (SO_PEERCRED): effective uid and gid.
type Peer struct {
	PID int32
	UID uint32
	GID uint32
}

// peerOf reads the peer credentials of a Unix socket connection.
func peerOf(c net.Conn) (Peer, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return Peer{}, fmt.Errorf("localapi: peer credentials: %T is not a unix connection", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("localapi: peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, fmt.Errorf("localapi: peer credentials: %w", err)
	}
	if serr != nil {
		return Peer{}, fmt.Errorf("localapi: peer credentials: %w", serr)
	}
	return Peer{PID: cred.Pid, UID: cred.Uid, GID: cred.Gid}, nil
}

// policy decides who may use the socket. It is a pure function of the peer
// and of groupsOf, so it is tested with a table of credentials.
type policy struct {
	self  uint32 // the daemon's own uid
	group int    // allowed group; < 0 means none
	// groupsOf returns the supplementary groups of the process pid, which
	// must still have effective uid uid (a pid can be reused).
	groupsOf func(pid int32, uid uint32) ([]uint32, error)
}

// allow reports whether p may use the socket, and why (for logs and audit).
func (pl policy) allow(p Peer) (bool, string) {
	switch {
	case p.UID == 0:
		return true, "root"
	case p.UID == pl.self:
		return true, "daemon uid"
	case pl.group < 0:
		return false, "not root"
	case p.GID == uint32(pl.group):
		return true, "primary group"
	}
	if pl.groupsOf == nil || p.PID <= 0 {
		return false, "not in group"
	}
	gs, err := pl.groupsOf(p.PID, p.UID)
	if err != nil {
		return false, "groups unreadable: " + err.Error()
	}
	for _, g := range gs {
		if g == uint32(pl.group) {
			return true, "supplementary group"
		}
	}
	return false, "not in group"
}

// procGroups reads a process's supplementary groups from procRoot/<pid>/status.
func procGroups(procRoot string) func(pid int32, uid uint32) ([]uint32, error) {
	return func(pid int32, uid uint32) ([]uint32, error) {
		b, err := os.ReadFile(filepath.Join(procRoot, strconv.Itoa(int(pid)), "status"))
		if err != nil {
			return nil, fmt.Errorf("localapi: read groups of pid %d: %w", pid, err)
		}
		euid, groups, err := parseStatus(b)
		if err != nil {
			return nil, fmt.Errorf("localapi: pid %d: %w", pid, err)
		}
		if euid != uid {
			return nil, fmt.Errorf("localapi: pid %d changed uid", pid)
		}
		return groups, nil
	}
}

var errStatus = errors.New("localapi: bad proc status")

// parseStatus extracts the effective uid and the supplementary groups from
// the text of /proc/<pid>/status.
func parseStatus(b []byte) (euid uint32, groups []uint32, err error) {
	var haveUID, haveGroups bool
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch key {
		case "Uid":
			f := strings.Fields(val)
			if len(f) < 2 || haveUID {
				return 0, nil, fmt.Errorf("%w: Uid line", errStatus)
			}
			u, err := strconv.ParseUint(f[1], 10, 32)
			if err != nil {
				return 0, nil, fmt.Errorf("%w: Uid line", errStatus)
			}
			euid, haveUID = uint32(u), true
		case "Groups":
			if haveGroups {
				return 0, nil, fmt.Errorf("%w: two Groups lines", errStatus)
			}
			haveGroups = true
			for _, f := range strings.Fields(val) {
				g, err := strconv.ParseUint(f, 10, 32)
				if err != nil {
					return 0, nil, fmt.Errorf("%w: Groups line", errStatus)
				}
				groups = append(groups, uint32(g))
			}
		}
	}
	if err := sc.Err(); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errStatus, err)
	}
	if !haveUID || !haveGroups {
		return 0, nil, fmt.Errorf("%w: no Uid or Groups line", errStatus)
	}
	return euid, groups, nil
}

// peerListener caps concurrent connections and reads each connection's peer
// credentials once, at accept.
type peerListener struct {
	net.Listener
	sem       chan struct{} // one token per open connection
	done      chan struct{} // closed by Close
	closeOnce sync.Once
}

func newPeerListener(ln net.Listener, max int) *peerListener {
	return &peerListener{Listener: ln, sem: make(chan struct{}, max), done: make(chan struct{})}
}

type peerConn struct {
	net.Conn
	peer    Peer
	peerErr error
	once    sync.Once
	release func()
}

func (c *peerConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

func (l *peerListener) Accept() (net.Conn, error) {
	// Wait for a free slot before accepting: excess clients queue in the
	// kernel's backlog instead of costing us a goroutine each.
	select {
	case l.sem <- struct{}{}:
	case <-l.done:
		return nil, net.ErrClosed
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.sem
		return nil, err
	}
	p, perr := peerOf(c)
	return &peerConn{Conn: c, peer: p, peerErr: perr, release: func() { <-l.sem }}, nil
}

// Close also unblocks an Accept that waits for a slot.
func (l *peerListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return l.Listener.Close()
}
