package wiegand_test

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/device/pins/pinstest"
	"github.com/intercomd/intercomd/reader/wiegand"
)

var update = flag.Bool("update", false, "re-record the transcripts in testdata/wiegand")

const transcriptDir = "../../testdata/wiegand"

// recordings are the scenarios behind the committed transcripts. With
// -update they are played by the simulated reader through a Recorder and
// saved; without it, the saved transcripts are replayed and must give the
// same credentials and counters.
var recordings = []struct {
	name  string
	meta  map[string]string
	play  func(ctx context.Context, tx *pinstest.Transmitter) error
	iv    time.Duration
	jit   float64
	after time.Duration // silence after the scenario, before checking
}{
	{name: "h10301_2ms", iv: 2 * time.Millisecond, jit: 0.1, meta: map[string]string{"want": "card 18:32770"},
		play: card(wiegand.H10301, 18, 32770)},
	{name: "h10301_200us", iv: 200 * time.Microsecond, jit: 0.1, meta: map[string]string{"want": "card 200:1"},
		play: card(wiegand.H10301, 200, 1)},
	{name: "h10301_20ms", iv: 20 * time.Millisecond, jit: 0.2, meta: map[string]string{"want": "card 5:60001"},
		play: card(wiegand.H10301, 5, 60001)},
	{name: "h10306_1ms", iv: time.Millisecond, jit: 0.1, meta: map[string]string{"want": "card 1234:56789"},
		play: card(wiegand.H10306, 1234, 56789)},
	{name: "corp1000_2ms", iv: 2 * time.Millisecond, jit: 0.1, meta: map[string]string{"want": "card 1000:123456"},
		play: card(wiegand.Corp1000, 1000, 123456)},
	{name: "h10304_5ms", iv: 5 * time.Millisecond, jit: 0.1, meta: map[string]string{"want": "card 4660:300000"},
		play: card(wiegand.H10304, 4660, 300000)},
	{name: "h10302_2ms", iv: 2 * time.Millisecond, meta: map[string]string{"want": "card 0:12345678901", "prefer37": "h10302"},
		play: card(wiegand.H10302, 0, 12345678901)},
	{name: "raw32_2ms", iv: 2 * time.Millisecond, jit: 0.1, meta: map[string]string{"want": "card raw:40010001"},
		play: func(ctx context.Context, tx *pinstest.Transmitter) error {
			b, err := wiegand.EncodeRaw(32, 1<<29|1<<15, true)
			if err != nil {
				return err
			}
			_, err = tx.Send(ctx, b)
			return err
		}},
	{name: "two_cards_2ms", iv: 2 * time.Millisecond, jit: 0.1, meta: map[string]string{"want": "card 1:1; card 2:2"},
		play: func(ctx context.Context, tx *pinstest.Transmitter) error {
			if err := card(wiegand.H10301, 1, 1)(ctx, tx); err != nil {
				return err
			}
			time.Sleep(30 * time.Millisecond)
			return card(wiegand.H10301, 2, 2)(ctx, tx)
		}},
	{name: "keys4_pin", iv: 2 * time.Millisecond, jit: 0.1, meta: map[string]string{"want": "pin 2580", "stats": "keys=5"},
		play: keys("2580#", 4)},
	{name: "keys8_pin", iv: 2 * time.Millisecond, jit: 0.1, meta: map[string]string{"want": "pin 135790", "stats": "keys=7"},
		play: keys("135790#", 8)},
	{name: "glitch_in_card", iv: 2 * time.Millisecond, meta: map[string]string{"want": "card 7:777", "stats": "noise_pulses=1"},
		play: func(ctx context.Context, tx *pinstest.Transmitter) error {
			b, _ := wiegand.Encode(wiegand.H10301, 7, 777)
			if _, err := tx.Send(ctx, b[:13]); err != nil {
				return err
			}
			time.Sleep(700 * time.Microsecond)
			tx.Edges.Pulse(0, 3*time.Microsecond)
			time.Sleep(1300 * time.Microsecond)
			_, err := tx.Send(ctx, b[13:])
			return err
		}},
	{name: "both_low", iv: 2 * time.Millisecond, meta: map[string]string{"want": "", "stats": "both_low=1 frames=1"},
		play: func(ctx context.Context, tx *pinstest.Transmitter) error {
			b, _ := wiegand.Encode(wiegand.H10301, 7, 777)
			if _, err := tx.Send(ctx, b[:20]); err != nil {
				return err
			}
			time.Sleep(2 * time.Millisecond)
			tx.Edges.Pulse(1, 50*time.Microsecond)
			time.Sleep(10 * time.Microsecond)
			tx.Edges.Pulse(0, 50*time.Microsecond)
			time.Sleep(2 * time.Millisecond)
			_, err := tx.Send(ctx, b[21:])
			return err
		}},
	{name: "parity_error", iv: 2 * time.Millisecond, jit: 0.1, meta: map[string]string{"want": "", "stats": "parity=1"},
		play: func(ctx context.Context, tx *pinstest.Transmitter) error {
			b, _ := wiegand.Encode(wiegand.H10301, 9, 999)
			b[3] = !b[3]
			_, err := tx.Send(ctx, b)
			return err
		}},
	{name: "wrong_length_32bit_reader", iv: 2 * time.Millisecond, jit: 0.1, meta: map[string]string{"want": "", "stats": "bad_length=1"},
		play: func(ctx context.Context, tx *pinstest.Transmitter) error {
			_, err := tx.Send(ctx, make([]bool, 21))
			return err
		}},
}

func card(f wiegand.Format, fc, cn uint64) func(context.Context, *pinstest.Transmitter) error {
	return func(ctx context.Context, tx *pinstest.Transmitter) error {
		_, err := tx.SendCard(ctx, f, fc, cn)
		return err
	}
}

func keys(k string, width int) func(context.Context, *pinstest.Transmitter) error {
	return func(ctx context.Context, tx *pinstest.Transmitter) error {
		_, err := tx.SendKeys(ctx, k, width)
		return err
	}
}

func configFor(meta map[string]string) wiegand.Config {
	var cfg wiegand.Config
	if p, err := wiegand.ParseFormat(meta["prefer37"]); err == nil {
		cfg.Decode.Prefer37 = p
	}
	return cfg
}

// runTranscript runs a reader over src until silence and returns what it
// delivered, as "kind value; ...".
func runTranscript(t *testing.T, cfg wiegand.Config, src wiegand.EdgeSource, play func(context.Context) error) (string, *wiegand.Reader) {
	out := make(chan access.Credential, 16)
	r := wiegand.New(cfg, src, out, nil, nil)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	if err := play(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	close(out)
	var got []string
	for c := range out {
		got = append(got, c.Kind.String()+" "+c.Value)
	}
	return strings.Join(got, "; "), r
}

func checkStats(t *testing.T, r *wiegand.Reader, want string) {
	t.Helper()
	snap := r.Stats().Snapshot()
	for _, kv := range strings.Fields(want) {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("bad stats %q", kv)
		}
		if snap[k] != n {
			t.Errorf("stat %s = %d, want %d (%v)", k, snap[k], n, snap)
		}
	}
}

func TestTranscripts(t *testing.T) {
	if *update {
		for i, rec := range recordings {
			synctest.Test(t, func(t *testing.T) {
				edges := pinstest.NewEdges()
				tx := &pinstest.Transmitter{Edges: edges, Interval: rec.iv, Jitter: rec.jit, Rand: rand.New(rand.NewPCG(uint64(i), 3))}
				recorder := &wiegand.Recorder{Src: edges}
				got, _ := runTranscript(t, configFor(rec.meta), recorder, func(ctx context.Context) error { return rec.play(ctx, tx) })
				if got != rec.meta["want"] {
					t.Errorf("%s: recording gave %q, want %q", rec.name, got, rec.meta["want"])
				}
				tr := recorder.Transcript(rec.meta)
				tr.Meta["recorded"] = fmt.Sprintf("pinstest.Transmitter interval %v jitter %.0f%% pulse 50us", rec.iv, rec.jit*100)
				var buf bytes.Buffer
				if err := wiegand.WriteTranscript(&buf, tr, "recorded", "prefer37", "want", "stats"); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(transcriptDir, rec.name+".txt"), buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
	files, err := filepath.Glob(filepath.Join(transcriptDir, "*.txt"))
	if err != nil || len(files) < len(recordings) {
		t.Fatalf("found %d transcripts (%v), want at least %d: run go test -run TestTranscripts -update", len(files), err, len(recordings))
	}
	for _, file := range files {
		name := strings.TrimSuffix(filepath.Base(file), ".txt")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := wiegand.ReadTranscript(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			want, ok := tr.Meta["want"]
			if !ok {
				t.Fatal("transcript has no want: line")
			}
			synctest.Test(t, func(t *testing.T) {
				edges := pinstest.NewEdges()
				got, r := runTranscript(t, configFor(tr.Meta), edges, func(ctx context.Context) error {
					_, err := pinstest.Replay(ctx, edges, tr)
					return err
				})
				if got != want {
					t.Errorf("replay gave %q, want %q", got, want)
				}
				checkStats(t, r, tr.Meta["stats"])
			})
		})
	}
}

// Transcript parsing cases, shared with the fuzz target.
var transcriptCases = []struct {
	name, in string
	edges    int
	ok       bool
}{
	{"ok", "# wiegand transcript v1\n# want: card 1:1\n0 1 50000\n2000000 0 50000\n", 2, true},
	{"both", "# wiegand transcript v1\n0 1 50000 both\n", 1, true},
	{"no header", "0 1 50000\n", 0, false},
	{"bad line", "# wiegand transcript v1\n0 2 50000\n", 0, false},
	{"back in time", "# wiegand transcript v1\n10 0 0\n5 0 0\n", 0, false},
	{"junk", "# wiegand transcript v1\nx y z\n", 0, false},
	{"extra field", "# wiegand transcript v1\n0 0 0 all\n", 0, false},
	{"negative", "# wiegand transcript v1\n-5 0 0\n", 0, false},
}

func TestReadTranscript(t *testing.T) {
	for _, tc := range transcriptCases {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := wiegand.ReadTranscript(strings.NewReader(tc.in))
			if (err == nil) != tc.ok || len(tr.Edges) != tc.edges {
				t.Fatalf("ReadTranscript = %d edges, %v; want %d edges, ok %v", len(tr.Edges), err, tc.edges, tc.ok)
			}
			if !tc.ok {
				return
			}
			var buf bytes.Buffer
			if err := wiegand.WriteTranscript(&buf, tr, "want"); err != nil {
				t.Fatal(err)
			}
			back, err := wiegand.ReadTranscript(&buf)
			if err != nil || !slices.Equal(back.Edges, tr.Edges) || back.Meta["want"] != tr.Meta["want"] {
				t.Errorf("round trip = %+v, %v", back, err)
			}
		})
	}
}

func FuzzReadTranscript(f *testing.F) {
	for _, tc := range transcriptCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tr, err := wiegand.ReadTranscript(strings.NewReader(in))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := wiegand.WriteTranscript(&buf, tr); err != nil {
			t.Fatal(err)
		}
		back, err := wiegand.ReadTranscript(&buf)
		if err != nil || !slices.Equal(back.Edges, tr.Edges) {
			t.Fatalf("round trip of %q: %+v, %v", in, back.Edges, err)
		}
	})
}
