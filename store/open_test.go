package store

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func TestOpenFreshAndReopen(t *testing.T) {
	db, path := openTest(t, Options{})
	mustApply(t, db, Batch{Revision: 3, Upserts: []Upsert{testVisit(1, 1)}})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2 := reopen(t, db, path, Options{})
	st, err := db2.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Visits != 1 || st.Creds != 3 || st.Revision != 3 || st.FileSize == 0 {
		t.Errorf("stats after reopen = %+v, want 1 visit, 3 creds, revision 3", st)
	}
}

func TestOpenLockedSameProcess(t *testing.T) {
	_, path := openTest(t, Options{})
	start := time.Now()
	db2, err := Open(path, Options{})
	took := time.Since(start)
	if err == nil {
		db2.Close()
		t.Fatal("second Open of a locked file succeeded")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("err = %v, want ErrLocked", err)
	}
	if took > 1500*time.Millisecond {
		t.Errorf("locked Open took %v, want about 1 s", took)
	}
	msg := err.Error()
	if !strings.Contains(msg, path) || !strings.Contains(msg, fmt.Sprintf("pid %d", os.Getpid())) {
		t.Errorf("error %q should name the file and this process as holder", msg)
	}
}

// TestHelperProcess is not a test: the tests below run the test binary as a
// child that does one thing, chosen by STORE_HELPER.
func TestHelperProcess(t *testing.T) {
	path := os.Getenv("STORE_PATH")
	switch os.Getenv("STORE_HELPER") {
	case "":
		t.Skip("helper process only")
	case "hold":
		db, err := Open(path, Options{})
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("ready")
		bufio.NewReader(os.Stdin).ReadString('\n') // until the parent closes stdin
		db.Close()
		os.Exit(0)
	case "apply":
		helperApply(path)
	}
}

func TestOpenLockedOtherProcess(t *testing.T) {
	db, path := openTest(t, Options{})
	db.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "STORE_HELPER=hold", "STORE_PATH="+path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("child said %q", line)
	}
	start := time.Now()
	db2, err := Open(path, Options{})
	took := time.Since(start)
	if err == nil {
		db2.Close()
		t.Fatal("Open of a file locked by another process succeeded")
	}
	if !errors.Is(err, ErrLocked) || took > 1500*time.Millisecond {
		t.Fatalf("err = %v after %v, want ErrLocked within about 1 s", err, took)
	}
	if want := fmt.Sprintf("pid %d", cmd.Process.Pid); !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q should name %s and %s", err, path, want)
	}
}

func TestOpenCorruptLeavesFileUnchanged(t *testing.T) {
	dir := t.TempDir()
	// A real store with data, to truncate.
	full := dir + "/full.db"
	db, err := Open(full, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	var ups []Upsert
	for i := range 2000 {
		ups = append(ups, testVisit(i, 1))
	}
	mustApply(t, db, Batch{Upserts: ups})
	db.Close()
	fullBytes, _ := os.ReadFile(full)

	garbage := make([]byte, 64<<10)
	rand.Read(garbage)
	foreign := dir + "/foreign.db"
	fb, err := bolt.Open(foreign, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	fb.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket([]byte("other-app"))
		return b.Put([]byte("k"), []byte("v"))
	})
	fb.Close()
	foreignBytes, _ := os.ReadFile(foreign)
	// Our buckets, but the meta bucket lost its schema key.
	noSchema := append([]byte(nil), fullBytes...)

	cases := []struct {
		name string
		data []byte
		edit func(path string)
		want error
	}{
		{"garbage", garbage, nil, ErrCorrupt},
		{"text", []byte("hello, I am not a database\n"), nil, ErrCorrupt},
		{"truncated to two pages", fullBytes[:8192], nil, ErrCorrupt},
		{"truncated to half of its pages", fullBytes[:usedBytes(t, fullBytes)/2], nil, ErrCorrupt},
		{"meta pages zeroed", append(make([]byte, 8192), fullBytes[8192:]...), nil, ErrCorrupt},
		{"foreign bbolt file", foreignBytes, nil, ErrForeign},
		{"meta without schema", noSchema, func(p string) {
			b, err := bolt.Open(p, 0o600, &bolt.Options{Timeout: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			b.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Delete(kSchema) })
			b.Close()
		}, ErrForeign},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path := t.TempDir() + "/x.db"
			if err := os.WriteFile(path, tc.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(path)
			}
			before := fileHash(t, path)
			db, err := Open(path, Options{})
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if after := fileHash(t, path); after != before {
				t.Error("Open changed the file")
			}
		})
	}
}

func TestOpenSchemaTooNew(t *testing.T) {
	db, path := openTest(t, Options{})
	db.Close()
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b.Update(func(tx *bolt.Tx) error { return tx.Bucket(bMeta).Put(kSchema, u64(SchemaVersion+1)) })
	b.Close()
	before := fileHash(t, path)
	db2, err := Open(path, Options{})
	if err == nil {
		db2.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), path) {
		t.Errorf("err = %v, want ErrSchemaTooNew naming %s", err, path)
	}
	if fileHash(t, path) != before {
		t.Error("Open changed the file")
	}
}

func TestOpenEmptyBoltFileIsInitialised(t *testing.T) {
	path := t.TempDir() + "/empty.db"
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a bucketless bbolt file: %v", err)
	}
	defer db.Close()
	if _, err := db.Revision(); err != nil {
		t.Error(err)
	}
}

// usedBytes is the part of a bbolt file its newest meta page refers to
// (bbolt grows files ahead of use, so the tail may be unused zeros).
func usedBytes(t *testing.T, b []byte) int {
	m0, ok0 := parseMeta(b)
	m1, ok1 := parseMeta(b[4096:])
	if !ok0 && !ok1 {
		t.Fatal("fixture has no valid meta page")
	}
	if !ok0 || (ok1 && m1.txid > m0.txid) {
		m0 = m1
	}
	return int(m0.pgid) * int(m0.pageSize)
}

// TestOpenGarbledPagesNeverCrash overwrites one page of a store whose meta
// pages are valid with random bytes: Open must refuse the file (or open it,
// if the page was free) without crashing and without changing it. bbolt
// itself would crash the process on such a page while rebuilding its
// freelist in a goroutine of its own.
func TestOpenGarbledPagesNeverCrash(t *testing.T) {
	db, path := openTest(t, Options{NoSync: true})
	var ups []Upsert
	for i := range 3000 {
		ups = append(ups, testVisit(i, 1))
	}
	mustApply(t, db, Batch{Upserts: ups})
	db.Close()
	clean, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	clean = clean[:usedBytes(t, clean)] // bbolt's unused tail makes every trial slower
	pages := len(clean) / 4096
	r := mrand.New(mrand.NewPCG(7, 7))
	refused := 0
	for trial := range 40 {
		b := append([]byte(nil), clean...)
		page := 2 + r.IntN(pages-2) // 0 and 1 are the meta pages
		for i := page * 4096; i < (page+1)*4096; i++ {
			b[i] = byte(r.IntN(256))
		}
		p := fmt.Sprintf("%s/garbled-%d.db", t.TempDir(), trial)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		before := fileHash(t, p)
		db, err := Open(p, Options{})
		switch {
		case err == nil:
			db.Close() // a free page: nothing lost
		case errors.Is(err, ErrCorrupt) || errors.Is(err, ErrForeign):
			refused++
			if fileHash(t, p) != before {
				t.Errorf("page %d: Open changed a file it refused", page)
			}
		default:
			t.Errorf("page %d: err = %v, want ErrCorrupt", page, err)
		}
	}
	if refused == 0 {
		t.Error("no garbled page was detected; the test proved nothing")
	}
	t.Logf("%d of 40 garbled files refused", refused)
}
