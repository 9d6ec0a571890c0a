package mqttsync

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/access/accesstest"
	"github.com/intercomd/intercomd/internal/mqtttest"
	"github.com/intercomd/intercomd/store"
	"github.com/intercomd/intercomd/sync/cloudsim"
)

// The benchmarks run through a real mosquitto on loopback with a durable
// (fsync) store, measure their own percentiles over many operations, and
// print "BENCH name value unit" lines (make bench). b.N is ignored: each
// runs its measurement once.

func pct(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s)-1) * p)
	return s[i]
}

func ms(d time.Duration) string { return strconv.FormatFloat(float64(d)/1e6, 'f', 2, 64) }

// appliedTo returns an Applied hook and a function that waits for a
// revision.
func appliedTo() (func(uint64), func(rev uint64, d time.Duration) bool) {
	ch := make(chan uint64, 1<<16)
	var seen uint64
	hook := func(rev uint64) {
		select {
		case ch <- rev:
		default:
		}
	}
	wait := func(rev uint64, d time.Duration) bool {
		timer := time.NewTimer(d)
		defer timer.Stop()
		for seen < rev {
			select {
			case r := <-ch:
				seen = max(seen, r)
			case <-timer.C:
				return false
			}
		}
		return true
	}
	return hook, wait
}

func BenchmarkSnapshot100kApply(b *testing.B) {
	const n = 100000
	h := accesstest.Hasher()
	st := cloudsim.NewState()
	now := time.Now()
	for i := range n {
		s := cloudsim.Spec{Intercoms: []string{device}, Start: now.Add(-time.Hour), End: now.Add(time.Duration(24+i%100) * time.Hour),
			Secrets: cloudsim.Secrets{PIN: fmt.Sprintf("%08d", i), QRToken: fmt.Sprintf("%032x", i)}}
		if i%3 == 0 {
			s.Days, s.Daily = []string{"mon", "tue", "wed"}, "09:00-17:00"
		}
		if _, _, err := st.Create(h, s); err != nil {
			b.Fatal(err)
		}
	}
	broker, _, db := benchBase(b, cloudsim.Options{Hasher: h, State: st})
	hook, wait := appliedTo()
	o := testOptions(broker.URL())
	o.Store, o.Applied, o.ChunkTimeout = db, hook, 30*time.Second
	if testing.Verbose() {
		o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cl, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.ResetTimer()
	start := time.Now()
	go func() { cl.Run(ctx); close(done) }()
	ok := wait(st.Revisions[device], 120*time.Second)
	took := time.Since(start)
	cancel()
	<-done
	if !ok {
		b.Fatalf("snapshot not applied: %+v", cl.Stats())
	}
	s, _ := db.Stats()
	if s.Visits != n {
		b.Fatalf("%d visits applied, want %d", s.Visits, n)
	}
	fmt.Printf("BENCH snapshot_100k_apply %.2f s\n", took.Seconds())
	b.ReportMetric(took.Seconds(), "s/snapshot")
	b.Logf("%d chunks", cl.Stats().ChunksStaged)
}

func BenchmarkDeltaPublishToApplied(b *testing.B) {
	hook, wait := appliedTo()
	r := newRigWith(b, mqtttest.Options{}, true, func(o *Options) { o.Applied = hook })
	waitFor(b, 10*time.Second, "the first snapshot", func() bool { return r.client.Stats().SnapshotsApplied > 0 })
	var lat []time.Duration
	for i := range 500 {
		t0 := time.Now()
		v, err := r.cloud.Create(spec(cloudsim.Secrets{PIN: fmt.Sprintf("%06d", i)}))
		if err != nil {
			b.Fatal(err)
		}
		_ = v
		var rev uint64
		_ = r.cloud.View(func(st *cloudsim.State) error { rev = st.Revisions[device]; return nil })
		if !wait(rev, 10*time.Second) {
			b.Fatalf("delta %d not applied", rev)
		}
		lat = append(lat, time.Since(t0))
	}
	fmt.Printf("BENCH delta_publish_to_applied_p50 %s ms\n", ms(pct(lat, 0.5)))
	fmt.Printf("BENCH delta_publish_to_applied_p99 %s ms\n", ms(pct(lat, 0.99)))
}

func BenchmarkRevokePublishToDenied(b *testing.B) {
	r := newRigWith(b, mqtttest.Options{}, true, nil)
	const n = 300
	ids := make([]string, n)
	for i := range n {
		v, err := r.cloud.Create(spec(cloudsim.Secrets{PIN: fmt.Sprintf("7%05d", i)}))
		if err != nil {
			b.Fatal(err)
		}
		ids[i] = v.ID
	}
	r.converge(30 * time.Second)
	var lat []time.Duration
	for i, id := range ids {
		pin := access.Credential{Kind: access.KindPIN, Value: fmt.Sprintf("7%05d", i), Reader: "keypad0"}
		t0 := time.Now()
		if err := r.cloud.Delete(id); err != nil {
			b.Fatal(err)
		}
		for {
			pin.At = time.Now()
			d := r.door.eng.Decide(pin, access.Clock{Now: pin.At, Trusted: true})
			if !d.Grant && d.Reason == access.ReasonVisitDeleted {
				break
			}
			if time.Since(t0) > 10*time.Second {
				b.Fatalf("visit %s still %v 10 s after its deletion", id, d.Reason)
			}
			time.Sleep(50 * time.Microsecond)
		}
		lat = append(lat, time.Since(t0))
	}
	fmt.Printf("BENCH revoke_publish_to_denied_p50 %s ms\n", ms(pct(lat, 0.5)))
	fmt.Printf("BENCH revoke_publish_to_denied_p99 %s ms\n", ms(pct(lat, 0.99)))
}

func BenchmarkOutboxDrain(b *testing.B) {
	const n = 100000
	col := &collector{}
	broker, _, db := benchBase(b, cloudsim.Options{OnEvents: col.add})
	batch := make([]access.Event, 0, 1000)
	at := time.Now().UTC()
	for i := range n {
		batch = append(batch, access.Event{ID: access.NewEventID(), Type: access.EventAccessDenied, At: at, Reason: access.ReasonUnknownCredential,
			Kind: "pin", Reader: "keypad0", TookUS: int64(i % 1000)})
		if len(batch) == cap(batch) {
			if err := db.Append(context.Background(), batch...); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	o := testOptions(broker.URL())
	o.Store = db
	cl, err := New(o)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	b.ResetTimer()
	go func() { cl.Run(ctx); close(done) }()
	waitFor(b, 10*time.Second, "the connection", func() bool { return cl.Stats().Connected })
	start := time.Now()
	waitFor(b, 120*time.Second, "the outbox to drain", func() bool { return cl.Stats().EventsSent >= n })
	took := time.Since(start)
	cancel()
	<-done
	if left, _ := db.OutboxLen(); left != 0 {
		b.Fatalf("%d events left in the outbox", left)
	}
	waitFor(b, 60*time.Second, "all events at the cloud", func() bool { return col.count() >= n })
	fmt.Printf("BENCH outbox_drain %.0f events/s\n", float64(n)/took.Seconds())
}

// benchBase starts a broker, a cloud with copt and a durable store, all
// closed when b ends.
func benchBase(b *testing.B, copt cloudsim.Options) (*mqtttest.Broker, *cloudsim.Cloud, *store.DB) {
	broker := mqtttest.Start(b, mqtttest.Options{})
	copt.Broker = broker.URL()
	cloud, err := cloudsim.Dial(b.Context(), copt)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(cloud.Close)
	db, err := store.Open(filepath.Join(b.TempDir(), "s.db"), store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	return broker, cloud, db
}
