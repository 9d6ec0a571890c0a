package main

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/access/accesstest"
	"github.com/intercomd/intercomd/internal/demo"
	"github.com/intercomd/intercomd/reader/wiegand"
	"github.com/intercomd/intercomd/store"
	"github.com/intercomd/intercomd/sync/cloudsim"
)

// benchVisits is the size of the store the daemon benchmarks start on.
const benchVisits = 1_000_000

var daemonFixtureOnce sync.Once

// daemonFixture builds (once, cached in os.TempDir()) a store of 1M visits
// with 3M credentials, hashed with accesstest.SiteKey.
func daemonFixture(b *testing.B) string {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("intercomd-daemon-1m-s%d-v2.db", store.SchemaVersion))
	daemonFixtureOnce.Do(func() {
		if _, err := os.Stat(path); err == nil {
			return
		}
		tmp := path + ".building"
		os.Remove(tmp)
		db, err := store.Open(tmp, store.Options{NoSync: true})
		if err != nil {
			b.Fatal(err)
		}
		h := accesstest.Hasher()
		now := time.Now()
		const batch = 100_000
		for from := 0; from < benchVisits; from += batch {
			ups := make([]store.Upsert, batch)
			for i := range ups {
				n := from + i
				var hs [3]access.Hash
				hs[0], _ = h.Hash(access.KindQR, fmt.Sprintf("%032x", n))
				hs[1], _ = h.Hash(access.KindCard, fmt.Sprintf("%d:%d", 100+n/1_000_000, n%1_000_000))
				hs[2], _ = h.Hash(access.KindPIN, fmt.Sprintf("%09d", n))
				ups[i] = store.Upsert{Visit: access.Visit{ID: fmt.Sprintf("visit-%07d", n), Version: 1,
					Start: now.Add(-time.Hour), End: now.Add(365 * 24 * time.Hour), Intercoms: []string{"door-01"}}, Creds: hs[:]}
			}
			if _, err := db.Apply(store.Batch{Revision: uint64(from/batch + 1), Upserts: ups}); err != nil {
				b.Fatal(err)
			}
		}
		if err := db.Close(); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			b.Fatal(err)
		}
	})
	return path
}

// BenchmarkDaemonStartup starts the real binary in sim mode on a copy of the
// 1M-visit store and reports startup_to_ready (exec to the READY line) and
// rss_idle (RssAnon after it settles).
func BenchmarkDaemonStartup(b *testing.B) {
	fixture := daemonFixture(b)
	dir := b.TempDir()
	bin := filepath.Join(dir, "intercomd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	db := filepath.Join(dir, "intercomd.db")
	if out, err := exec.Command("cp", fixture, db).CombinedOutput(); err != nil {
		b.Fatalf("copy: %v %s", err, out)
	}
	key := filepath.Join(dir, "site.key")
	os.WriteFile(key, []byte(hex.EncodeToString(accesstest.SiteKey)), 0o600)
	cfg := filepath.Join(dir, "intercomd.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("device_id = \"door-01\"\nhardware = \"sim\"\nsite_key_file = %q\ndatabase = %q\n[camera]\nenabled = true\n[debug]\nsocket = %q\n[log]\nlevel = \"warn\"\n",
		key, db, filepath.Join(dir, "run", "s.sock"))), 0o600)

	var starts []time.Duration
	var rss float64
	for i := range 3 {
		cmd := exec.Command(bin, "--config", cfg)
		out, _ := cmd.StdoutPipe()
		cmd.Stderr = os.Stderr
		t0 := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		sc := bufio.NewScanner(out)
		ready := false
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "READY") {
				ready = true
				break
			}
		}
		if !ready {
			cmd.Process.Kill()
			cmd.Wait()
			b.Fatal("daemon did not report READY")
		}
		starts = append(starts, time.Since(t0))
		if i == 2 {
			time.Sleep(3 * time.Second)
			rss = rssAnonMB(b, cmd.Process.Pid)
		}
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
	}
	slices.Sort(starts)
	fmt.Printf("BENCH startup_to_ready %d ms\n", starts[len(starts)/2].Milliseconds())
	fmt.Printf("BENCH rss_idle %.1f MB\n", rss)
}

func rssAnonMB(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "RssAnon:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Fatal("no RssAnon")
	return 0
}

// BenchmarkSimToRelay measures, in-process, from the last input byte or
// edge to the relay output changing: sim_pin_to_relay (the '#' key frame
// written to the pty) and sim_card_to_relay (the last Wiegand edge).
func BenchmarkSimToRelay(b *testing.B) {
	s, err := demo.Prepare(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	cloud, err := s.Cloud(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	defer cloud.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan *daemon, 1)
	testHook = func(d *daemon) { got <- d }
	defer func() { testHook = nil }()
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"--sim", "--config", s.Config}, discard{}, discard{}) }()
	d := <-got
	now := time.Now()
	v, err := cloud.Create(cloudsim.Spec{FirstName: "B", Intercoms: []string{s.Device}, Start: now.Add(-time.Minute), End: now.Add(time.Hour), GenPIN: true, GenCard: true})
	if err != nil {
		b.Fatal(err)
	}
	for {
		if _, _, err := d.db.Visit(v.ID); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	locked := lockedLevel(d.cfg)
	waitUnlock := func(t0 time.Time) time.Duration {
		for {
			if l, ok := d.hw.sim.relay.Level(); ok && l != locked {
				el := time.Since(t0)
				d.door.Lock("bench")
				return el
			}
			if time.Since(t0) > 5*time.Second {
				b.Fatal("relay did not unlock within 5 s")
			}
			time.Sleep(20 * time.Microsecond)
		}
	}
	const n = 40
	var pin, card []time.Duration
	for range n {
		for _, k := range v.Secrets.PIN {
			d.hw.sim.pad.Press(byte(k))
		}
		time.Sleep(20 * time.Millisecond)
		t0 := time.Now()
		d.hw.sim.pad.Press('#')
		pin = append(pin, waitUnlock(t0))
	}
	fc, cn, _ := strings.Cut(v.Secrets.Card, ":")
	f, _ := strconv.ParseUint(fc, 10, 64)
	c, _ := strconv.ParseUint(cn, 10, 64)
	h10301, err := wiegand.ParseFormat("h10301")
	if err != nil {
		b.Fatal(err)
	}
	for range n {
		last, err := d.hw.sim.tx.SendCard(ctx, h10301, f, c)
		if err != nil {
			b.Fatal(err)
		}
		card = append(card, waitUnlock(last))
	}
	cancel()
	<-done
	slices.Sort(pin)
	slices.Sort(card)
	fmt.Printf("BENCH sim_pin_to_relay %.2f ms\n", float64(pin[n/2].Microseconds())/1000)
	fmt.Printf("BENCH sim_pin_to_relay_p99 %.2f ms\n", float64(pin[n-1].Microseconds())/1000)
	fmt.Printf("BENCH sim_card_to_relay %.2f ms\n", float64(card[n/2].Microseconds())/1000)
	fmt.Printf("BENCH sim_card_to_relay_p99 %.2f ms\n", float64(card[n-1].Microseconds())/1000)
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
