package wiegand

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A transcript records the edges of a Wiegand line pair with their timing,
// so that a capture (from the device or from the simulator) can be replayed
// in tests. The text form is
//
//	# wiegand transcript v1
//	# key: value            (metadata, e.g. "want: card 12:3456")
//	<offset_ns> <line> <width_ns> [both]
//
// where offset_ns is the time since the first edge, width_ns the pulse width
// (0 when unknown) and "both" marks an edge seen with both lines low.
// Transcripts hold card numbers: they are test fixtures, never logs.

// TranscriptEdge is one recorded edge.
type TranscriptEdge struct {
	Offset  time.Duration
	Line    int
	Width   time.Duration
	BothLow bool
}

// Transcript is a recorded edge sequence with its metadata.
type Transcript struct {
	Meta  map[string]string
	Edges []TranscriptEdge
}

const transcriptHeader = "# wiegand transcript v1"

// maxTranscriptEdges bounds what ReadTranscript accepts.
const maxTranscriptEdges = 1 << 16

// WriteTranscript writes t in the text form; metadata keys are written in
// the order given by keys (others are skipped).
func WriteTranscript(w io.Writer, t Transcript, keys ...string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, transcriptHeader)
	for _, k := range keys {
		if v, ok := t.Meta[k]; ok {
			fmt.Fprintf(bw, "# %s: %s\n", k, v)
		}
	}
	for _, e := range t.Edges {
		fmt.Fprintf(bw, "%d %d %d", e.Offset.Nanoseconds(), e.Line, e.Width.Nanoseconds())
		if e.BothLow {
			bw.WriteString(" both")
		}
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("wiegand: write transcript: %w", err)
	}
	return nil
}

// ReadTranscript parses the text form. Offsets must not decrease.
func ReadTranscript(r io.Reader) (Transcript, error) {
	t := Transcript{Meta: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1024), 1<<16)
	n := 0
	header := false
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		if c, ok := strings.CutPrefix(line, "#"); ok {
			c = strings.TrimSpace(c)
			if n == 1 && line == transcriptHeader {
				header = true
				continue
			}
			if k, v, ok := strings.Cut(c, ":"); ok {
				t.Meta[strings.TrimSpace(k)] = strings.TrimSpace(v)
			}
			continue
		}
		if !header {
			return Transcript{}, fmt.Errorf("wiegand: transcript: missing header %q", transcriptHeader)
		}
		f := strings.Fields(line)
		if len(f) < 3 || len(f) > 4 || (len(f) == 4 && f[3] != "both") {
			return Transcript{}, fmt.Errorf("wiegand: transcript line %d: want \"offset line width [both]\"", n)
		}
		off, err1 := strconv.ParseInt(f[0], 10, 64)
		ln, err2 := strconv.Atoi(f[1])
		w, err3 := strconv.ParseInt(f[2], 10, 64)
		if err1 != nil || err2 != nil || err3 != nil || off < 0 || w < 0 || (ln != 0 && ln != 1) {
			return Transcript{}, fmt.Errorf("wiegand: transcript line %d: bad field", n)
		}
		e := TranscriptEdge{Offset: time.Duration(off), Line: ln, Width: time.Duration(w), BothLow: len(f) == 4}
		if k := len(t.Edges); k > 0 && e.Offset < t.Edges[k-1].Offset {
			return Transcript{}, fmt.Errorf("wiegand: transcript line %d: offset goes back", n)
		}
		if len(t.Edges) == maxTranscriptEdges {
			return Transcript{}, fmt.Errorf("wiegand: transcript: more than %d edges", maxTranscriptEdges)
		}
		t.Edges = append(t.Edges, e)
	}
	if err := sc.Err(); err != nil {
		return Transcript{}, fmt.Errorf("wiegand: read transcript: %w", err)
	}
	if !header {
		return Transcript{}, fmt.Errorf("wiegand: transcript: missing header %q", transcriptHeader)
	}
	return t, nil
}

// Recorder is an EdgeSource that passes the edges of Src through and
// records them, so that a capture on the device or in the simulator can be
// saved as a transcript. It is safe to call Transcript while it runs.
type Recorder struct {
	Src EdgeSource

	mu    sync.Mutex
	start time.Time
	edges []TranscriptEdge
}

// WaitForEdge implements EdgeSource.
func (r *Recorder) WaitForEdge(timeout time.Duration) (Edge, bool, error) {
	e, ok, err := r.Src.WaitForEdge(timeout)
	if ok && err == nil {
		r.mu.Lock()
		if len(r.edges) == 0 {
			r.start = e.At
		}
		if len(r.edges) < maxTranscriptEdges {
			r.edges = append(r.edges, TranscriptEdge{Offset: e.At.Sub(r.start), Line: e.Line, Width: e.Width, BothLow: e.BothLow})
		}
		r.mu.Unlock()
	}
	return e, ok, err
}

// Transcript returns what was recorded so far, with meta.
func (r *Recorder) Transcript(meta map[string]string) Transcript {
	r.mu.Lock()
	defer r.mu.Unlock()
	return Transcript{Meta: meta, Edges: append([]TranscriptEdge(nil), r.edges...)}
}
