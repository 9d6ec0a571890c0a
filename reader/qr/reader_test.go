package qr

import (
	"bytes"
	"context"
	"errors"
	"image/jpeg"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/intercomd/intercomd/access"
)

func fixtureNamed(t *testing.T, prefix string) fixture {
	t.Helper()
	for _, fx := range fixtures(t) {
		if strings.HasPrefix(fx.name, prefix) {
			return fx
		}
	}
	t.Fatalf("no fixture %s*", prefix)
	return fixture{}
}

// logBuffer captures the reader's log, to check that no token leaks.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestReaderProcess(t *testing.T) {
	if !cvAvailable {
		t.Skip("needs OpenCV")
	}
	var logs logBuffer
	r := New(Config{ID: "cam-test", Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	d := NewDecoder()
	defer d.Close()
	t0 := time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	frame := func(name string, at time.Time) Frame {
		return Frame{Gray: load(t, name), At: at}
	}
	pos := fixtureNamed(t, "pos_plain")
	two := fixtureNamed(t, "two_codes")
	url := fixtureNamed(t, "url_code")
	neg := fixtureNamed(t, "neg_scene")

	steps := []struct {
		name  string
		frame Frame
		want  []string // tokens
	}{
		{"positive", frame(pos.name, t0), []string{strings.TrimPrefix(pos.texts[0], PayloadPrefix)}},
		{"same code next frame", frame(pos.name, t0.Add(33*time.Millisecond)), nil},
		{"negative", frame(neg.name, t0.Add(66*time.Millisecond)), nil},
		{"not a visit key", frame(url.name, t0.Add(100*time.Millisecond)), nil},
		{"two codes", frame(two.name, t0.Add(133*time.Millisecond)), []string{
			strings.TrimPrefix(two.texts[0], PayloadPrefix), strings.TrimPrefix(two.texts[1], PayloadPrefix)}},
		{"positive after hold-off", frame(pos.name, t0.Add(4*time.Second)), []string{strings.TrimPrefix(pos.texts[0], PayloadPrefix)}},
	}
	for _, s := range steps {
		creds := r.Process(d, s.frame)
		var got []string
		for _, c := range creds {
			if c.Kind != access.KindQR || c.Reader != "cam-test" || !c.At.Equal(s.frame.At) {
				t.Errorf("%s: credential %v/%s at %v", s.name, c.Kind, c.Reader, c.At)
			}
			if _, err := access.Normalize(access.KindQR, c.Value); err != nil {
				t.Errorf("%s: credential value rejected by access: %v", s.name, err)
			}
			got = append(got, c.Value)
		}
		slices.Sort(got)
		slices.Sort(s.want)
		if strings.Join(got, ",") != strings.Join(s.want, ",") {
			t.Errorf("%s: credentials %q, want %q", s.name, got, s.want)
		}
	}
	want := Stats{Frames: 6, Decoded: 6, NotVisitKey: 1, Duplicates: 1, Credentials: 4}
	if got := r.Stats(); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	for _, fx := range []fixture{pos, two} {
		for _, tx := range fx.texts {
			if strings.Contains(logs.String(), strings.TrimPrefix(tx, PayloadPrefix)) {
				t.Errorf("log holds a token: %s", logs.String())
			}
		}
	}
}

// sliceSource hands out frames, then blocks until ctx is done, like a camera
// with nothing new to show.
type sliceSource struct {
	mu     sync.Mutex
	frames []Frame
	err    error // returned once frames run out, if set
}

func (s *sliceSource) Next(ctx context.Context) (Frame, error) {
	s.mu.Lock()
	if len(s.frames) > 0 {
		f := s.frames[0]
		s.frames = s.frames[1:]
		s.mu.Unlock()
		return f, nil
	}
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return Frame{}, err
	}
	<-ctx.Done()
	return Frame{}, ctx.Err()
}

func TestReaderRun(t *testing.T) {
	if !cvAvailable {
		t.Skip("needs OpenCV")
	}
	pos := fixtureNamed(t, "pos_")
	g := load(t, pos.name)
	synctest.Test(t, func(t *testing.T) {
		src := &sliceSource{}
		for i := range 6 {
			src.frames = append(src.frames, Frame{Gray: g, Seq: uint64(i), At: time.Now()})
		}
		r := New(Config{Workers: 2})
		out := make(chan access.Credential)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.Run(ctx, src, out) }()
		c := <-out
		if c.Value != strings.TrimPrefix(pos.texts[0], PayloadPrefix) || c.Reader != "camera0" {
			t.Errorf("credential %s from %s", c.Kind, c.Reader)
		}
		synctest.Wait() // every frame decoded, workers blocked in Next
		if s := r.Stats(); s.Frames != 6 || s.Credentials != 1 || s.Duplicates != 5 {
			t.Errorf("stats %+v, want 6 frames, 1 credential, 5 duplicates", s)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run returned %v on cancellation, want nil", err)
		}
	})
}

func TestReaderRunSourceFails(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		boom := errors.New("camera gone")
		r := New(Config{Workers: 2})
		err := r.Run(t.Context(), &sliceSource{err: boom}, make(chan access.Credential))
		if !errors.Is(err, boom) || !strings.HasPrefix(err.Error(), "qr: ") {
			t.Fatalf("Run = %v, want a qr: error wrapping %v", err, boom)
		}
	})
}

func TestReaderBadFrame(t *testing.T) {
	r := New(Config{})
	d := NewDecoder()
	defer d.Close()
	if c := r.Process(d, Frame{Gray: Gray{Width: 10, Height: 10, Stride: 10}}); len(c) != 0 {
		t.Fatalf("credentials from a bad frame: %v", c)
	}
	if s := r.Stats(); s.DecodeErrors != 1 || s.Frames != 1 {
		t.Fatalf("stats %+v, want one decode error", s)
	}
}

func TestSnapshot(t *testing.T) {
	pos := fixtureNamed(t, "pos_plain")
	g := load(t, pos.name)
	b, err := Snapshot(g)
	if !cvAvailable {
		if !errors.Is(err, ErrNoCamera) {
			t.Fatalf("Snapshot without OpenCV = %v, want ErrNoCamera", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("snapshot is not a JPEG: %v", err)
	}
	if img.Bounds().Dx() != g.Width || img.Bounds().Dy() != g.Height {
		t.Fatalf("snapshot is %v, want %dx%d", img.Bounds(), g.Width, g.Height)
	}
	green := 0
	for y := 0; y < g.Height; y += 2 {
		for x := 0; x < g.Width; x += 2 {
			r, gg, bb, _ := img.At(x, y).RGBA()
			if gg>>8 > 180 && r>>8 < 90 && bb>>8 < 90 {
				green++
			}
		}
	}
	if green < 50 {
		t.Fatalf("snapshot has %d green pixels; the outline is missing", green)
	}
	if _, err := Snapshot(Gray{}); err == nil {
		t.Fatal("Snapshot accepted an empty frame")
	}
}
