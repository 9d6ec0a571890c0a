package keypad_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/access/accesstest"
	"github.com/intercomd/intercomd/device/serialport"
	"github.com/intercomd/intercomd/device/serialport/serialporttest"
	"github.com/intercomd/intercomd/reader/keypad"
	"github.com/intercomd/intercomd/reader/keypad/td63sim"
)

// BenchmarkKeypadSubmitToDecision measures, over many PINs, the time from
// the '#' key frame written to the pty master to the decision callback
// running the real engine (access.Engine over an in-memory lookup) — the
// reader's share of a keypad unlock: pty, go.bug.st/serial, read loop,
// parser, PIN entry and hand-off. It runs once whatever b.N is and prints
// its percentiles as BENCH lines.
func BenchmarkKeypadSubmitToDecision(b *testing.B) {
	const pins = 2000
	link, err := serialporttest.NewLink(filepath.Join(b.TempDir(), "ttyTD63"))
	if err != nil {
		b.Fatal(err)
	}
	defer link.Close()

	lookup := accesstest.NewMapLookup()
	now := time.Now()
	if err := lookup.Put(accesstest.Hasher(), access.Visit{ID: "v-bench", Start: now.Add(-time.Hour), End: now.Add(time.Hour), Intercoms: []string{"door1"}},
		accesstest.Cred{Kind: access.KindPIN, Value: "48151623"}); err != nil {
		b.Fatal(err)
	}
	engine := access.New(access.Config{Intercom: "door1", VisitKeysEnabled: true}, lookup, accesstest.Hasher())

	decided := make(chan time.Time, 1)
	grants := 0
	decide := func(_ context.Context, c access.Credential) access.Decision {
		d := engine.Decide(c, access.Clock{Now: time.Now(), Trusted: true})
		at := time.Now()
		if d.Grant {
			grants++
		}
		decided <- at
		return d
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reader := keypad.New(keypad.Config{}, serialport.Config{Path: link.Path}.Opener(), decide, nil, nil)
	runDone := make(chan error, 1)
	go func() { runDone <- reader.Run(ctx) }()
	sim := td63sim.New(td63sim.Config{})
	simDone := make(chan error, 1)
	go func() { simDone <- sim.Run(ctx, link.Master()) }()
	defer func() { cancel(); <-runDone; <-simDone }()

	// Wait for the link to be up (first heartbeat through).
	for deadline := time.Now().Add(10 * time.Second); reader.Stats().Heartbeats == 0; {
		if time.Now().After(deadline) {
			b.Fatal("keypad never came online")
		}
		time.Sleep(time.Millisecond)
	}
	var digits []byte
	for _, k := range []byte("48151623") {
		f, _ := sim.Frame(keypad.KeyFrame(0, k))
		digits = append(digits, f...)
	}
	lat := make([]time.Duration, 0, pins)

	b.ResetTimer()
	for range pins {
		if err := sim.WriteRaw(digits); err != nil {
			b.Fatal(err)
		}
		hash, _ := sim.Frame(keypad.KeyFrame(0, '#'))
		time.Sleep(200 * time.Microsecond) // let the digits land first, as typing would
		start := time.Now()
		if err := sim.WriteRaw(hash); err != nil {
			b.Fatal(err)
		}
		select {
		case at := <-decided:
			lat = append(lat, at.Sub(start))

		case <-time.After(10 * time.Second):
			b.Fatalf("no decision; stats %+v", reader.Stats())
		}
	}
	b.StopTimer()
	if grants != pins {
		b.Fatalf("%d of %d PINs granted", grants, pins)
	}
	slices.Sort(lat)

	pct := func(p float64) int64 { return lat[int(p*float64(len(lat)-1))].Microseconds() }
	fmt.Printf("BENCH keypad_submit_to_decision_p50 %d us\n", pct(0.50))
	fmt.Printf("BENCH keypad_submit_to_decision_p99 %d us\n", pct(0.99))
	b.ReportMetric(float64(pct(0.99)), "p99-us")
}
