package mqttsync

import (
	"math/rand/v2"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/intercomd/intercomd/sync/cloudsim"
)

// TestConvergenceUnderChaos makes random creates, updates and deletes while
// the broker is killed and restarted (losing every session), the link hangs
// (SIGSTOP), the daemon restarts on the same store file, and a daemon in a
// child process is SIGKILLed while it syncs; afterwards the cache must equal
// the cloud's set, visit by visit.
func TestConvergenceUnderChaos(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	r := newRig(t, mqtttestOptions(), nil)
	var live []string
	ops := func() {
		for range 5 + rng.IntN(15) {
			switch op := rng.IntN(10); {
			case op < 5 || len(live) == 0:
				s := spec(cloudsim.Secrets{})
				s.GenPIN, s.GenQR = true, rng.IntN(2) == 0
				s.SingleUse = rng.IntN(3) == 0
				if rng.IntN(2) == 0 {
					s.Days, s.Daily = []string{"mon", "wed"}, "08:00-18:00"
				}
				v, err := r.cloud.Create(s)
				if err != nil {
					t.Fatal(err)
				}
				live = append(live, v.ID)
			case op < 8:
				id := live[rng.IntN(len(live))]
				if err := r.cloud.Update(id, func(v *cloudsim.Visit) { v.End = v.End.Add(time.Duration(rng.IntN(100)) * time.Minute) }); err != nil {
					t.Fatal(err)
				}
			default:
				i := rng.IntN(len(live))
				if err := r.cloud.Delete(live[i]); err != nil {
					t.Fatal(err)
				}
				live = append(live[:i], live[i+1:]...)
			}
		}
	}
	for round := range 24 {
		ops()
		switch round % 4 {
		case 0: // broker crash: sessions and queued deltas are lost
			if err := r.broker.Kill(); err != nil {
				t.Fatal(err)
			}
			if err := r.broker.Start(); err != nil {
				t.Fatal(err)
			}
		case 1: // daemon restart on the same store
			r.restart()
		case 2: // a hung broker for a moment
			r.broker.Pause()
			time.Sleep(time.Duration(50+rng.IntN(200)) * time.Millisecond)
			r.broker.Resume()
		case 3: // a daemon killed with SIGKILL while it syncs
			r.stop()
			child := startHelper(t, filepath.Dir(r.dbPath), r.broker.URL(), helperEnv+"_KEYS_ONLY=1")
			time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
			ops()
			time.Sleep(time.Duration(rng.IntN(100)) * time.Millisecond)
			child.Process.Signal(syscall.SIGKILL)
			child.Wait()
			r.openStore()
			r.start()
		}
	}
	r.converge(20 * time.Second)
	// The last daemon's own start snapshot must agree too.
	waitFor(t, 20*time.Second, "the last daemon's snapshot", func() bool { return r.client.Stats().SnapshotsApplied > 0 })
	r.converge(15 * time.Second)
	t.Logf("last daemon: %+v", r.client.Stats())
}
