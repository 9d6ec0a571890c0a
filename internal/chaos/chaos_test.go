package chaos

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"log/slog"
)

// TestChaosShort is the short form of `make chaos`: three rounds against the
// real binary, the second with a broker freeze (the daemon is killed while
// its events wait in the outbox), the third with a broker kill. It must find
// no failure and lose no event.
func TestChaosShort(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon: skipped with -short")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "intercomd")
	build := exec.CommandContext(t.Context(), filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "github.com/intercomd/intercomd/cmd/intercomd")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build intercomd: %v\n%s", err, out)
	}
	rep, err := Run(t.Context(), Options{Binary: bin, Dir: filepath.Join(dir, "world"), Iterations: 3, Seed: 42,
		Visits: 120, MaxPause: 3 * time.Second, BrokerEvery: 3, PauseEvery: 3,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	rep.Print(&out)
	t.Log("\n" + out.String())
	if rep.Iterations != 3 {
		t.Errorf("ran %d iterations, want 3", rep.Iterations)
	}
	if rep.Failures != 0 || rep.EventsLost != 0 {
		t.Errorf("%d failures, %d events lost:\n%s", rep.Failures, rep.EventsLost, strings.Join(rep.Problems, "\n"))
	}
	if rep.EventsReceived == 0 || rep.EventsCommitted == 0 {
		t.Errorf("no events flowed (received %d, seen in an outbox %d): the checks checked nothing", rep.EventsReceived, rep.EventsCommitted)
	}
	if rep.BrokerKills != 1 || rep.BrokerPauses != 1 {
		t.Errorf("broker kills %d, pauses %d, want 1 each", rep.BrokerKills, rep.BrokerPauses)
	}
}

func TestPhaseString(t *testing.T) {
	for p, want := range map[Phase]string{PhaseSnapshot: "snapshot", PhaseDelta: "delta", PhaseSingleUse: "single-use", PhaseOutbox: "outbox", Phase(9): "phase(9)"} {
		if got := p.String(); got != want {
			t.Errorf("Phase(%d).String() = %q, want %q", int(p), got, want)
		}
	}
}
