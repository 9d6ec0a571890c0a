package store

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
)

const crashBatch = 100000

func crashUpserts(base int) []Upsert {
	ups := make([]Upsert, crashBatch)
	for i := range ups {
		ups[i] = testVisit(base+i, 1)
	}
	return ups
}

// helperApply runs in the child: apply one large batch, saying when it starts
// and ends.
func helperApply(path string) {
	db, err := Open(path, Options{})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	rev, _ := db.Revision()
	ups := crashUpserts(int(rev) * crashBatch)
	fmt.Println("started")
	if _, err := db.Apply(Batch{Revision: rev + 1, Upserts: ups}); err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("done")
	db.Close()
	os.Exit(0)
}

// TestApplySIGKILL kills a child in the middle of applying a 100k-visit batch
// and checks that the store opens and holds the whole batch or none of it.
func TestApplySIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes that apply 100k visits")
	}
	path := t.TempDir() + "/crash.db"
	// The first child runs to the end (and is killed after "done", before
	// Close), which measures how long an apply takes; the others are killed
	// at fractions of that, most of them late, where bbolt writes and syncs.
	fractions := []float64{-1, 0.5, 0.9, 0.97}
	var full time.Duration
	var applied, killedMid int
	for _, frac := range fractions {
		cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
		cmd.Env = append(os.Environ(), "STORE_HELPER=apply", "STORE_PATH="+path)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
		out, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 4)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		if l := <-lines; l != "started" {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("child said %q", l)
		}
		start := time.Now()
		delay := time.Duration(frac * float64(full))
		if frac < 0 {
			if l := <-lines; l != "done" {
				t.Fatalf("child said %q", l)
			}
			full = time.Since(start)
		} else {
			time.Sleep(delay) // a real process is killed at a real moment
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		finished := false
		for l := range lines {
			finished = finished || l == "done"
		}
		if frac >= 0 && !finished {
			killedMid++
		}

		db, err := Open(path, Options{})
		if err != nil {
			t.Fatalf("delay %v: Open after SIGKILL: %v", delay, err)
		}
		st, err := db.Stats()
		if err != nil {
			t.Fatal(err)
		}
		// Count what is really there, not just the counters.
		n := 0
		if err := db.Visits(func(_ access.Visit, _ time.Time) bool { n++; return true }); err != nil {
			t.Fatalf("walking visits after SIGKILL: %v", err)
		}
		db.Close()
		want := uint64(applied) * crashBatch
		switch {
		case st.Revision == uint64(applied) && uint64(n) == want && st.Visits == want:
		case st.Revision == uint64(applied+1) && uint64(n) == want+crashBatch && st.Visits == want+crashBatch:
			applied++
		default:
			t.Fatalf("delay %v: store holds %d visits (counter %d, creds %d) at revision %d: a partial batch (before: %d batches)",
				delay, n, st.Visits, st.Creds, st.Revision, applied)
		}
		if st.Creds != st.Visits*3 {
			t.Fatalf("delay %v: %d creds for %d visits", delay, st.Creds, st.Visits)
		}
	}
	t.Logf("apply took %v; %d kills, %d mid-apply, %d batches committed", full, len(fractions), killedMid, applied)
	if killedMid == 0 {
		t.Error("no kill landed during an apply; the test proved nothing")
	}
}
