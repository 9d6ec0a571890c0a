package store

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// lockHolder returns "pid N (comm)" for the process holding a lock on path,
// found in /proc/locks by device and inode, or "" if it cannot be found.
// Best effort: pids in /proc/locks are those of the lock's creator and may
// belong to another pid namespace.
func lockHolder(path string) string {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return ""
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return ""
	}
	defer f.Close()
	dev := fmt.Sprintf("%02x:%02x:%d", unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev)), st.Ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// "1: FLOCK  ADVISORY  WRITE 1234 fd:01:56789 0 EOF"; a blocked
		// waiter has "->" after the number.
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] == "->" {
			continue
		}
		if !strings.EqualFold(fields[5], dev) && !sameDevIno(fields[5], st) {
			continue
		}
		pid, err := strconv.Atoi(fields[4])
		if err != nil {
			continue
		}
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if c := strings.TrimSpace(string(comm)); c != "" {
			return fmt.Sprintf("pid %d (%s)", pid, c)
		}
		return fmt.Sprintf("pid %d", pid)
	}
	return ""
}

// sameDevIno compares a /proc/locks "MAJ:MIN:INODE" field (hex device
// numbers of any width) with st.
func sameDevIno(field string, st unix.Stat_t) bool {
	parts := strings.Split(field, ":")
	if len(parts) != 3 {
		return false
	}
	maj, err1 := strconv.ParseUint(parts[0], 16, 32)
	min, err2 := strconv.ParseUint(parts[1], 16, 32)
	ino, err3 := strconv.ParseUint(parts[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return false
	}
	return uint32(maj) == unix.Major(uint64(st.Dev)) && uint32(min) == unix.Minor(uint64(st.Dev)) && ino == st.Ino
}

// bbolt's on-disk meta page, as far as checkFile needs it.
const (
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	pageHeaderSize = 16
	metaSize       = 56 // magic..txid, then the 8-byte checksum
)

type boltMeta struct {
	pageSize uint32
	pgid     uint64
	txid     uint64
}

// parseMeta validates one bbolt meta page (header + meta) and returns it.
func parseMeta(p []byte) (boltMeta, bool) {
	if len(p) < pageHeaderSize+metaSize+8 {
		return boltMeta{}, false
	}
	m := p[pageHeaderSize:]
	le := binary.LittleEndian
	if le.Uint32(m[0:]) != boltMagic || le.Uint32(m[4:]) != boltVersion {
		return boltMeta{}, false
	}
	h := fnv.New64a()
	h.Write(m[:metaSize])
	if h.Sum64() != le.Uint64(m[metaSize:]) {
		return boltMeta{}, false
	}
	bm := boltMeta{pageSize: le.Uint32(m[8:]), pgid: le.Uint64(m[40:]), txid: le.Uint64(m[48:])}
	if bm.pageSize < 512 || bm.pageSize > 1<<20 || bm.pageSize&(bm.pageSize-1) != 0 {
		return boltMeta{}, false
	}
	return bm, true
}

// checkFile reads the two meta pages of an existing, non-empty file and
// refuses it before bbolt maps it if neither is valid or if the file is
// shorter than the highest page the newest valid meta refers to (a truncated
// file would fault on access). It only reads.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("store: open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("store: stat %s: %w", path, err)
	}
	buf := make([]byte, pageHeaderSize+metaSize+8)
	var best boltMeta
	found := false
	// The first meta is at 0; the second at one page size, which we learn
	// from whichever meta is valid, so try the common sizes.
	offsets := []int64{0, 4096, 512, 1024, 2048, 8192, 16384, 32768, 65536}
	for _, off := range offsets {
		if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
			continue
		}
		m, ok := parseMeta(buf)
		if !ok || (off != 0 && int64(m.pageSize) != off) {
			continue
		}
		if !found || m.txid > best.txid {
			best, found = m, true
		}
	}
	if !found {
		return fmt.Errorf("store: %s: no valid bbolt meta page: %w", path, ErrCorrupt)
	}
	if need := int64(best.pgid) * int64(best.pageSize); st.Size() < need {
		return fmt.Errorf("store: %s: file is %d bytes, its meta needs %d (truncated): %w", path, st.Size(), need, ErrCorrupt)
	}
	return nil
}
