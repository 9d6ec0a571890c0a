package access_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/access/accesstest"
)

// BenchmarkDecideMem measures the engine alone (an in-memory lookup) over
// many decisions and prints percentiles; the store's benchmark measures it on
// the 1M-visit bbolt cache. It ignores b.N: make bench runs it once.
func BenchmarkDecideMem(b *testing.B) {
	const visits, decisions = 20000, 200000
	h := accesstest.Hasher()
	m := accesstest.NewMapLookup()
	ny := mustLoad(b, "America/New_York")
	at := time.Date(2026, 6, 10, 16, 0, 0, 0, time.UTC)
	for i := range visits {
		v := access.Visit{ID: fmt.Sprintf("visit-%06d", i), Start: at.Add(-72 * time.Hour), End: at.Add(72 * time.Hour),
			Days: 0b0111110, DailyFrom: 8 * 60, DailyTo: 18 * 60, Intercoms: []string{"ic0", "ic1"}}
		if i%2 == 0 { // half are one-day visits without restrictions
			v.Start, v.End = at.Add(-time.Hour), at.Add(time.Hour)
		}
		if err := m.Put(h, v, pin(fmt.Sprintf("%08d", i)), accesstest.Cred{Kind: access.KindQR, Value: fmt.Sprintf("%032x", i)}); err != nil {
			b.Fatal(err)
		}
		m.FirstUse[v.ID] = at.Add(-time.Minute)
	}
	cfg := baseConfig()
	cfg.Location = ny
	e := access.New(cfg, m, h)
	clk := trusted(at)
	grant := make([]time.Duration, 0, decisions/2)
	unknown := make([]time.Duration, 0, decisions/2)
	for i := range decisions {
		// Alternate QR grants and unknown QRs (PINs would trip the lockout).
		var c access.Credential
		if i%2 == 0 {
			c = access.Credential{Kind: access.KindQR, Value: fmt.Sprintf("%032x", i%visits), Reader: "camera0"}
		} else {
			c = access.Credential{Kind: access.KindQR, Value: fmt.Sprintf("%032x", visits+i), Reader: "camera0"}
		}
		t0 := time.Now()
		d := e.Decide(c, clk)
		took := time.Since(t0)
		if d.Grant != (i%2 == 0) {
			b.Fatalf("decision %d: got %s", i, d.Reason)
		}
		if d.Grant {
			grant = append(grant, took)
		} else {
			unknown = append(unknown, took)
		}
	}
	grantCred := access.Credential{Kind: access.KindQR, Value: fmt.Sprintf("%032x", 2), Reader: "camera0"}
	allocs := testing.AllocsPerRun(1000, func() { e.Decide(grantCred, clk) })
	report(b, "decide_mem_p50_grant", grant, 50)
	report(b, "decide_mem_p99_grant", grant, 99)
	report(b, "decide_mem_p50_unknown", unknown, 50)
	report(b, "decide_mem_p99_unknown", unknown, 99)
	report(b, "decide_mem_p99", append(grant, unknown...), 99)
	fmt.Printf("BENCH decide_mem_allocs_grant %.0f allocs\n", allocs)
	b.ReportMetric(allocs, "allocs/grant")
}

func report(b *testing.B, name string, d []time.Duration, p int) {
	slices.Sort(d)
	v := d[min(len(d)-1, len(d)*p/100)]
	us := float64(v.Nanoseconds()) / 1000
	fmt.Printf("BENCH %s %.1f us\n", name, us)
	b.ReportMetric(us, name+"_us")
}
