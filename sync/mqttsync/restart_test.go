package mqttsync

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/internal/mqtttest"
	"github.com/intercomd/intercomd/store"
	"github.com/intercomd/intercomd/sync/cloudsim"
)

const (
	helperEnv    = "MQTTSYNC_HELPER_DAEMON"
	streamEvents = 10000
)

// eventID is event n's id: deterministic, so that an event appended again
// after a kill (its append was durable but the progress note was not) keeps
// its id and is a legal duplicate.
func eventID(n int) string { return fmt.Sprintf("%032x", n+1) }

// TestHelperDaemon is the child process of TestEventsSurviveKillsAndRestarts:
// a daemon that appends the numbered event stream to its store (durably)
// and runs the sync client, until it is killed.
func TestHelperDaemon(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("only run as a child process")
	}
	db, err := store.Open(filepath.Join(dir, "intercomd.db"), store.Options{Timeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	o := testOptions(os.Getenv(helperEnv + "_BROKER"))
	o.Store, o.KeepAlive = db, time.Second
	cl, err := New(o)
	if err != nil {
		os.Exit(2)
	}
	go cl.Run(context.Background())
	if os.Getenv(helperEnv+"_KEYS_ONLY") != "" {
		select {} // only sync keys, until killed
	}
	progress := filepath.Join(dir, "progress")
	next := 0
	if b, err := os.ReadFile(progress); err == nil {
		next, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	for next < streamEvents {
		n := min(25, streamEvents-next)
		evs := make([]access.Event, n)
		for i := range evs {
			evs[i] = access.Event{ID: eventID(next + i), Type: access.EventDoorOpened, At: time.Now().UTC(), Reader: "dpi0", Detail: "n=" + strconv.Itoa(next+i)}
		}
		if err := db.Append(context.Background(), evs...); err != nil {
			fmt.Fprintln(os.Stderr, "helper: append:", err)
			os.Exit(2)
		}
		next += n
		os.WriteFile(progress+".tmp", []byte(strconv.Itoa(next)), 0o600)
		os.Rename(progress+".tmp", progress)
		cl.Kick()
		time.Sleep(10 * time.Millisecond)
	}
	select {} // until killed
}

// TestEventsSurviveKillsAndRestarts streams 10,000 events from a daemon
// that is SIGKILLed 20 times, through a broker restarted 20 times; the
// cloud must see every event, in order, duplicates only with the same id.
func TestEventsSurviveKillsAndRestarts(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	broker := mqtttest.Start(t, mqtttest.Options{Persist: true})
	dir := t.TempDir()
	col := &collector{}
	cloud, err := cloudsim.Dial(t.Context(), cloudsim.Options{Broker: broker.URL(), ClientID: "cloud-events", OnEvents: col.add})
	if err != nil {
		t.Fatal(err)
	}
	defer cloud.Close()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	start := func() *exec.Cmd { return startHelper(t, dir, broker.URL()) }
	kills, restarts := 0, 0
	for kills < 20 || restarts < 20 {
		child := start()
		time.Sleep(time.Duration(150+rng.IntN(250)) * time.Millisecond)
		if restarts < 20 && rng.IntN(2) == 0 {
			if err := broker.Restart(); err != nil {
				t.Fatal(err)
			}
			restarts++
			time.Sleep(time.Duration(50+rng.IntN(150)) * time.Millisecond)
		}
		if kills < 20 {
			child.Process.Signal(syscall.SIGKILL)
			child.Wait()
			kills++
			continue
		}
		child.Process.Signal(syscall.SIGKILL)
		child.Wait()
	}
	child := start()
	defer func() { child.Process.Kill(); child.Wait() }()
	waitFor(t, 60*time.Second, "all events at the cloud", func() bool { return col.count() >= streamEvents })
	col.mu.Lock()
	defer col.mu.Unlock()
	for i, e := range col.order {
		if e.ID != eventID(i) || e.Detail != "n="+strconv.Itoa(i) {
			t.Fatalf("event %d at the cloud is %s (%s): lost or reordered", i, e.ID, e.Detail)
		}
	}
	if len(col.order) != streamEvents {
		t.Fatalf("cloud has %d distinct events, want %d", len(col.order), streamEvents)
	}
	t.Logf("%d kills, %d broker restarts, %d duplicates (same id)", kills, restarts, col.dups)
}

// startHelper starts TestHelperDaemon as a child process on the store in
// dir; extra environment settings select its mode.
func startHelper(t *testing.T, dir, url string, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDaemon$")
	cmd.Env = append(append(os.Environ(), helperEnv+"="+dir, helperEnv+"_BROKER="+url), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.Stderr = t.Output()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}
