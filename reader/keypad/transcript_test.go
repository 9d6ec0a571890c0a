package keypad

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/intercomd/intercomd/access"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/keypad")

// chunkPort replays a recorded byte stream as a serial port would deliver
// it: one chunk per Read, gap apart, then it blocks until closed.
type chunkPort struct {
	chunks  [][]byte
	gap     time.Duration
	closed  chan struct{}
	drained chan struct{} // closed when every chunk has been read
	once    sync.Once
	out     syncWriter
}

func (p *chunkPort) Read(b []byte) (int, error) {
	if len(p.chunks) == 0 {
		close(p.drained)
		<-p.closed
		return 0, errors.New("port closed")
	}
	time.Sleep(p.gap)
	n := copy(b, p.chunks[0])
	if p.chunks[0] = p.chunks[0][n:]; len(p.chunks[0]) == 0 {
		p.chunks = p.chunks[1:]
	}
	return n, nil
}

func (p *chunkPort) Write(b []byte) (int, error) { return p.out.Write(b) }
func (p *chunkPort) Close() error                { p.once.Do(func() { close(p.closed) }); return nil }

// readTranscript returns the hex lines of a .td63 file; '#' starts a comment.
func readTranscript(t *testing.T, path string) [][]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines [][]byte
	for i, l := range strings.Split(string(data), "\n") {
		l, _, _ = strings.Cut(l, "#")
		if l = strings.Join(strings.Fields(l), ""); l == "" {
			continue
		}
		b, err := hex.DecodeString(l)
		if err != nil {
			t.Fatalf("%s:%d: %v", path, i+1, err)
		}
		lines = append(lines, b)
	}
	return lines
}

func split(lines [][]byte, n int) [][]byte {
	if n == 0 {
		return slices.Clone(lines) // the port re-slices its chunks
	}
	var all, out []byte
	for _, l := range lines {
		all = append(all, l...)
	}
	var chunks [][]byte
	for len(all) > 0 {
		k := min(n, len(all))
		out, all = all[:k], all[k:]
		chunks = append(chunks, out)
	}
	return chunks
}

// replay runs the reader's real read and PIN loops over the transcript on
// fake time and summarises what it did.
func replay(t *testing.T, lines [][]byte, chunk int) string {
	var sum strings.Builder
	synctest.Test(t, func(t *testing.T) {
		decide := func(_ context.Context, c access.Credential) access.Decision {
			d := access.Decision{Reason: access.ReasonUnknownCredential}
			if c.Value == "2580" || c.Value == "8642" {
				d = access.Decision{Grant: true, Reason: access.ReasonGranted}
			}
			fmt.Fprintf(&sum, "pin %s -> %s\n", c.Value, d.Reason)
			return d
		}
		emit := func(e access.Event) {
			// Line error reports are rate-limited telemetry: when they fall
			// depends on how the bytes were chunked (TestReaderGarbageAndSplitFrames covers them).
			if e.Type != access.EventReaderError {
				fmt.Fprintf(&sum, "event %s: %s\n", e.Type, e.Detail)
			}
		}
		r := New(Config{ID: "kp"}, nil, decide, emit, nil)
		port := &chunkPort{chunks: split(lines, chunk), gap: 40 * time.Millisecond,
			closed: make(chan struct{}), drained: make(chan struct{})}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.serve(ctx, port) }()
		<-port.drained
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		for _, fb := range feedbackOf(t, port.out.frames(t)) {
			fmt.Fprintf(&sum, "feedback %v/%v/%v beep %dx%v\n", fb.LED.Colour, fb.LED.Pattern, fb.LED.Duration, fb.Buzzer.Count, fb.Buzzer.On)
		}
		s := r.Stats()
		l := s.Link
		fmt.Fprintf(&sum, "link bytes=%d frames=%d garbage=%d bad_crc=%d bad_length=%d malformed=%d unknown_type=%d resyncs=%d\n",
			l.Bytes, l.Frames, l.Garbage, l.BadCRC, l.BadLength, l.Malformed, l.UnknownType, l.Resyncs)
		fmt.Fprintf(&sum, "reader heartbeats=%d keys=%d seq_gaps=%d restarts=%d pins=%d grants=%d denies=%d too_long=%d cleared=%d timeouts=%d firmware=%s\n",
			s.Heartbeats, s.Keys, s.SeqGaps, s.KeypadRestarts, s.PINsSubmitted, s.Grants, s.Denies, s.TooLong, s.Cleared, s.Timeouts, s.Firmware)
	})
	return sum.String()
}

// TestTranscripts replays the recorded keypad byte streams in testdata/keypad
// whole, line by line and in 1- and 5-byte pieces, and compares what the
// reader did with the golden file (regenerate with -update).
func TestTranscripts(t *testing.T) {
	files, err := filepath.Glob("../../testdata/keypad/*.td63")
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts in testdata/keypad: %v", err)
	}
	for _, path := range files {
		name := strings.TrimSuffix(filepath.Base(path), ".td63")
		t.Run(name, func(t *testing.T) {
			lines := readTranscript(t, path)
			got := replay(t, lines, 0)
			for _, n := range []int{1, 5} {
				if again := replay(t, lines, n); again != got {
					t.Fatalf("in %d-byte pieces:\n%s\nline by line:\n%s", n, again, got)
				}
			}
			golden := strings.TrimSuffix(path, ".td63") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Fatalf("replay of %s:\n%s\nwant (%s):\n%s", path, got, golden, want)
			}
		})
	}
}
