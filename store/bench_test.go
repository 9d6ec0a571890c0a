package store

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/access/accesstest"
)

// The 1M-visit fixture is expensive to build, so it is cached in
// os.TempDir() under a name that changes whenever its content or the file
// format would. Delete the file to rebuild it.
const (
	fixtureVisits  = 1_000_000
	fixtureVersion = "v2"
)

var benchAt = time.Date(2026, 6, 10, 10, 0, 0, 0, time.UTC)

func fixturePath() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("intercomd-store-1m-s%d-r%d-%s.db", SchemaVersion, recordFormat, fixtureVersion))
}

// fixtureQR, fixtureCard and fixturePIN are the three credentials of visit i.
func fixtureQR(i int) string   { return fmt.Sprintf("%032x", i) }
func fixtureCard(i int) string { return fmt.Sprintf("%d:%d", 100+i/1_000_000, i%1_000_000) }
func fixturePIN(i int) string  { return fmt.Sprintf("%09d", i) }

func fixtureVisit(h *access.Hasher, i int) Upsert {
	v := access.Visit{ID: fmt.Sprintf("visit-%07d", i), Version: 1,
		Start: benchAt.Add(-72 * time.Hour), End: benchAt.Add(72 * time.Hour),
		Days: 0b0111110, DailyFrom: 6 * 60, DailyTo: 22 * 60, Intercoms: []string{"ic-main", "ic-side"}}
	var hs [3]access.Hash
	var err error
	if hs[0], err = h.Hash(access.KindQR, fixtureQR(i)); err != nil {
		panic(err)
	}
	if hs[1], err = h.Hash(access.KindCard, fixtureCard(i)); err != nil {
		panic(err)
	}
	if hs[2], err = h.Hash(access.KindPIN, fixturePIN(i)); err != nil {
		panic(err)
	}
	return Upsert{Visit: v, Creds: hs[:]}
}

var fixtureOnce sync.Once

// ensureFixture builds the cached 1M-visit, 3M-credential store through
// Apply, in one batch (as a first snapshot would arrive), without fsync; it
// returns the path.
func ensureFixture(b *testing.B) string {
	path := fixturePath()
	fixtureOnce.Do(func() {
		if _, err := os.Stat(path); err == nil {
			return
		}
		tmp := path + ".building"
		os.Remove(tmp)
		start, cpu0 := time.Now(), cpuTime()
		db, err := Open(tmp, Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		h := accesstest.Hasher()
		ups := make([]Upsert, fixtureVisits)
		var wg sync.WaitGroup
		workers := runtime.GOMAXPROCS(0)
		for w := range workers {
			wg.Go(func() {
				for i := w; i < len(ups); i += workers {
					ups[i] = fixtureVisit(h, i)
				}
			})
		}
		wg.Wait()
		if _, err := db.Apply(Batch{Revision: 1, Upserts: ups}); err != nil {
			b.Fatal(err)
		}
		ups = nil
		if err := db.bolt.Sync(); err != nil {
			b.Fatal(err)
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
		fmt.Printf("BENCH store_build_1m %.1f s\n", time.Since(start).Seconds())
		fmt.Printf("BENCH store_build_1m_cpu %.1f s\n", (cpuTime() - cpu0).Seconds())
	})
	return path
}

func copyFile(b *testing.B, src, dst string) {
	in, err := os.Open(src)
	if err != nil {
		b.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		b.Fatal(err)
	}
	if err := out.Close(); err != nil {
		b.Fatal(err)
	}
}

func pct(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func us(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Microsecond)) }
func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func benchConfig() access.Config {
	return access.Config{Intercom: "ic-main", VisitKeysEnabled: true, Location: time.UTC}
}

var store1MOnce sync.Once

// BenchmarkStore1M measures the store holding 1,000,000 visits and 3,000,000
// credentials: open, size, heap, decisions on the warm store, commit latency
// with real fsync and sustained decide+commit throughput. It runs once
// whatever b.N is and prints BENCH lines.
func BenchmarkStore1M(b *testing.B) {
	store1MOnce.Do(func() { benchStore1M(b) })
}

func benchStore1M(b *testing.B) {
	src := ensureFixture(b)
	path := filepath.Join(b.TempDir(), "store.db")
	copyFile(b, src, path) // commits below must not drift the cached fixture

	runtime.GC()
	start := time.Now()
	db, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	open := time.Since(start)
	defer db.Close()
	runtime.GC()
	var mem runtime.MemStats
	runtime.ReadMemStats(&mem)
	st, err := db.Stats()
	if err != nil {
		b.Fatal(err)
	}
	if st.Visits != fixtureVisits || st.Creds != 3*fixtureVisits {
		b.Fatalf("fixture holds %d visits, %d creds", st.Visits, st.Creds)
	}
	// The machine is shared; the load shows how far the latencies below are
	// from an idle board.
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		var l1 float64
		fmt.Sscan(string(la), &l1)
		fmt.Printf("BENCH store_bench_load1 %.1f load\n", l1)
	}
	fmt.Printf("BENCH store_open %d ms\n", open.Milliseconds())
	fmt.Printf("BENCH store_size %d MB\n", st.FileSize>>20)
	fmt.Printf("BENCH heap_after_open %.1f MB\n", float64(mem.HeapAlloc)/(1<<20))

	// The lookup alone (access.Lookup.Find), known hashes.
	hasher := accesstest.Hasher()
	rngF := rand.New(rand.NewPCG(3, 4))
	hashes := make([]access.Hash, 100_000)
	for i := range hashes {
		hashes[i], _ = hasher.Hash(access.KindQR, fixtureQR(rngF.IntN(fixtureVisits)))
	}
	find := make([]time.Duration, 0, len(hashes))
	for _, h := range hashes {
		t := time.Now()
		if _, _, err := db.Find(h); err != nil {
			b.Fatal(err)
		}
		find = append(find, time.Since(t))
	}
	fmt.Printf("BENCH store_find_p50 %s us\n", us(pct(find, 0.50)))
	fmt.Printf("BENCH store_find_p99 %s us\n", us(pct(find, 0.99)))

	e := access.New(benchConfig(), db, hasher)
	clk := access.Clock{Now: benchAt, Trusted: true}
	rng := rand.New(rand.NewPCG(1, 2))
	const decisions = 100_000
	grant := make([]time.Duration, 0, decisions)
	unknown := make([]time.Duration, 0, decisions)
	creds := make([]access.Credential, decisions)
	for i := range creds {
		creds[i] = access.Credential{Kind: access.KindQR, Value: fixtureQR(rng.IntN(fixtureVisits)), Reader: "camera0"}
	}
	for _, c := range creds {
		t := time.Now()
		d := e.Decide(c, clk)
		grant = append(grant, time.Since(t))
		if !d.Grant {
			b.Fatalf("fixture credential refused: %s", d.Reason)
		}
	}
	for i := range creds {
		creds[i].Value = fixtureQR(fixtureVisits + rng.IntN(1<<30))
	}
	for _, c := range creds {
		t := time.Now()
		d := e.Decide(c, clk)
		unknown = append(unknown, time.Since(t))
		if d.Reason != access.ReasonUnknownCredential {
			b.Fatalf("unknown credential: %s", d.Reason)
		}
	}
	fmt.Printf("BENCH decide_p50_grant %s us\n", us(pct(grant, 0.50)))
	fmt.Printf("BENCH decide_p99_grant %s us\n", us(pct(grant, 0.99)))
	fmt.Printf("BENCH decide_p50_unknown %s us\n", us(pct(unknown, 0.50)))
	fmt.Printf("BENCH decide_p99_unknown %s us\n", us(pct(unknown, 0.99)))

	// Commit latency, one caller: from decision to durable (fsync'd).
	ctx := context.Background()
	const commits = 2000
	lat := make([]time.Duration, 0, commits)
	for range commits {
		d := e.Decide(access.Credential{Kind: access.KindQR, Value: fixtureQR(rng.IntN(fixtureVisits)), Reader: "camera0"}, clk)
		t := time.Now()
		if err := db.Commit(ctx, &d); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t))
	}
	fmt.Printf("BENCH commit_p50 %s ms\n", ms(pct(lat, 0.50)))
	fmt.Printf("BENCH commit_p99 %s ms\n", ms(pct(lat, 0.99)))

	// Sustained: 8 readers deciding and committing, every event durable.
	const readers, window = 8, 5 * time.Second
	var mu sync.Mutex
	var all []time.Duration
	var wg sync.WaitGroup
	begin := time.Now()
	for r := range readers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			var mine []time.Duration
			for time.Since(begin) < window {
				c := access.Credential{Kind: access.KindQR, Value: fixtureQR(rng.IntN(fixtureVisits)), Reader: fmt.Sprint("camera", r)}
				if rng.IntN(4) == 0 {
					c.Value = fixtureQR(fixtureVisits + rng.IntN(1<<30)) // some refusals too
				}
				d := e.Decide(c, clk)
				t := time.Now()
				if err := db.Commit(ctx, &d); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(begin)
	fmt.Printf("BENCH decisions_per_s %.0f 1/s\n", float64(len(all))/elapsed.Seconds())
	fmt.Printf("BENCH commit_p99_8readers %s ms\n", ms(pct(all, 0.99)))
}

var snapshotOnce sync.Once

// BenchmarkSnapshot100k measures the store's part of a 100k-visit snapshot:
// staging it in chunks of at most 128 KB of wire payload (300 visits), each
// durable, and committing it in one transaction, on a store that already
// holds 100k visits (90k updated, 10k gone, 10k new), with real fsync.
func BenchmarkSnapshot100k(b *testing.B) {
	snapshotOnce.Do(func() {
		const n, perChunk = 100_000, 300
		h := accesstest.Hasher()
		path := filepath.Join(b.TempDir(), "snap.db")
		db, err := Open(path, Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		base := make([]Upsert, n)
		for i := range base {
			base[i] = fixtureVisit(h, i)
		}
		if _, err := db.Apply(Batch{Revision: 1, Upserts: base}); err != nil {
			b.Fatal(err)
		}
		db.Close()
		snap := make([]Upsert, n)
		for i := range snap {
			snap[i] = fixtureVisit(h, i+n/10) // 10k gone, 10k new
			snap[i].Visit.Version = 2
		}
		db, err = Open(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		cpu0 := cpuTime()
		start := time.Now()
		chunks := 0
		for from := 0; from < n; from += perChunk {
			if err := db.StageSnapshot("bench", chunks, snap[from:min(n, from+perChunk)]); err != nil {
				b.Fatal(err)
			}
			chunks++
		}
		staged := time.Since(start)
		// Decisions keep committing meanwhile; they wait for the snapshot's
		// transaction (one writer), which is the stall sync must keep short.
		stop := make(chan struct{})
		var worst time.Duration
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				d := grantDecision("visit-0000001", benchAt)
				t := time.Now()
				if err := db.Commit(context.Background(), &d); err != nil {
					b.Error(err)
					return
				}
				worst = max(worst, time.Since(t))
			}
		})
		res, err := db.CommitSnapshot("bench", 2, chunks)
		if err != nil {
			b.Fatal(err)
		}
		total := time.Since(start)
		close(stop)
		wg.Wait()
		if res.Upserted != n || res.Deleted != n/10 {
			b.Fatalf("snapshot result %+v", res)
		}
		fmt.Printf("BENCH store_snapshot_100k_stage %.2f s\n", staged.Seconds())
		fmt.Printf("BENCH store_snapshot_100k_apply %.2f s\n", total.Seconds())
		// The machine is shared: CPU time shows the cost without the wait
		// for other processes (the rest of the wall time is fsync and them).
		fmt.Printf("BENCH store_snapshot_100k_cpu %.2f s\n", (cpuTime() - cpu0).Seconds())
		fmt.Printf("BENCH store_commit_stall_snapshot_100k %d ms\n", worst.Milliseconds())
	})
}

// cpuTime is this process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
