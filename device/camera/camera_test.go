package camera

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/intercomd/intercomd/reader/qr"
)

const fixtureDir = "../../testdata/qr"

// drain takes frames from c until its source ends.
func drain(ctx context.Context, t testing.TB, c *Camera) []qr.Frame {
	t.Helper()
	var got []qr.Frame
	for {
		f, err := c.NextOrEnd(ctx)
		if errors.Is(err, ErrClosed) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f)
	}
}

func TestInfer(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		src  string
		want Kind
	}{
		{"/dev/video0", KindDevice},
		{"/dev/v4l/by-id/usb-cam-video-index0", KindDevice},
		{"rtsp://10.0.0.5/stream1", KindURL},
		{"http://cam.local/mjpg", KindURL},
		{dir, KindDir},
		{filepath.Join(dir, "clip.avi"), KindFile},
	} {
		c, err := New(Config{Source: tc.src})
		if err != nil {
			t.Fatalf("New(%q): %v", tc.src, err)
		}
		if c.cfg.Kind != tc.want {
			t.Errorf("source %q: kind %v, want %v", tc.src, c.cfg.Kind, tc.want)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New accepted an empty source")
	}
	if _, err := New(Config{Source: "x", Kind: Kind(42)}); err == nil {
		t.Error("New accepted an unknown kind")
	}
	if KindURL.String() != "url" || Kind(42).String() != "kind(42)" {
		t.Errorf("Kind.String: %q %q", KindURL, Kind(42))
	}
}

// TestSlotKeepsNewest checks the latest-frame slot: a slow reader gets the
// newest frame, older untaken ones are counted as dropped, each frame goes
// to one caller.
func TestSlotKeepsNewest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := New(Config{Source: t.TempDir()})
		g := qr.Gray{Pix: make([]byte, 4), Width: 2, Height: 2, Stride: 2}
		for range 5 {
			if err := c.Inject(qr.Frame{Gray: g}); err != nil {
				t.Fatal(err)
			}
		}
		f, err := c.Next(t.Context())
		if err != nil || f.Seq != 5 {
			t.Fatalf("Next = seq %d, %v; want the newest, seq 5", f.Seq, err)
		}
		if s := c.Stats(); s.Dropped != 4 || s.Injected != 5 {
			t.Errorf("stats %+v, want 4 dropped, 5 injected", s)
		}
		// Two waiting readers: one frame wakes exactly one of them.
		got := make(chan uint64, 2)
		ctx, cancel := context.WithCancel(t.Context())
		for range 2 {
			go func() {
				f, err := c.Next(ctx)
				if err == nil {
					got <- f.Seq
				}
			}()
		}
		synctest.Wait()
		c.Inject(qr.Frame{Gray: g})
		synctest.Wait()
		if len(got) != 1 || <-got != 6 {
			t.Fatalf("one frame reached %d readers", len(got)+1)
		}
		cancel()
		synctest.Wait()
		if err := c.Inject(qr.Frame{Gray: qr.Gray{Width: 3, Height: 3, Stride: 3}}); err == nil {
			t.Error("Inject accepted a frame without pixels")
		}
	})
}

// TestDirectory plays testdata/qr's frames as a camera: every image arrives
// once, in name order, paced, then the source ends.
func TestDirectory(t *testing.T) {
	dir := t.TempDir()
	names := []string{"pos_plain.jpg", "neg_scene.jpg", "url_code.jpg"}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(fixtureDir, n))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, n), b, 0o644)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not an image"), 0o644)
	os.WriteFile(filepath.Join(dir, "broken.jpg"), []byte("not a jpeg"), 0o644)
	synctest.Test(t, func(t *testing.T) {
		var states []bool
		c, err := New(Config{Source: dir, FPS: 10, OnState: func(on bool, _ error) { states = append(states, on) }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()
		start := time.Now()
		got := drain(ctx, t, c)
		if len(got) != 3 {
			t.Fatalf("got %d frames, want 3 (broken.jpg skipped)", len(got))
		}
		for i, f := range got {
			if f.Width != 1280 || f.Height != 720 || f.Seq != uint64(i+1) {
				t.Errorf("frame %d: %dx%d seq %d", i, f.Width, f.Height, f.Seq)
			}
		}
		if el := time.Since(start); el < 200*time.Millisecond {
			t.Errorf("3 frames at 10 fps took %v: not paced", el)
		}
		if len(states) != 2 || !states[0] || states[1] {
			t.Errorf("OnState saw %v, want [true false]", states)
		}
		// The sim path: a file pushed into the ended camera still arrives.
		if err := c.InjectFile(filepath.Join(fixtureDir, "pos_plain.jpg")); err != nil {
			t.Fatal(err)
		}
		if f, err := c.Next(ctx); err != nil || f.Width != 1280 {
			t.Fatalf("injected frame: %v", err)
		}
		if err := c.InjectFile(filepath.Join(dir, "notes.txt")); err == nil {
			t.Error("InjectFile accepted a text file")
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v on cancellation, want nil", err)
		}
	})
}

func TestEmptyDirectory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c, _ := New(Config{Source: t.TempDir(), Kind: KindDir})
		ctx, cancel := context.WithCancel(t.Context())
		go c.Run(ctx)
		if _, err := c.NextOrEnd(ctx); !errors.Is(err, ErrClosed) {
			t.Fatalf("NextOrEnd on an empty directory = %v, want ErrClosed", err)
		}
		// Next keeps waiting, for injected frames: the sim camera.
		got := make(chan error, 1)
		go func() { _, err := c.Next(ctx); got <- err }()
		synctest.Wait()
		if len(got) != 0 {
			t.Fatalf("Next returned %v on an ended source; want it to wait", <-got)
		}
		g := qr.Gray{Pix: make([]byte, 4), Width: 2, Height: 2, Stride: 2}
		c.Inject(qr.Frame{Gray: g})
		if err := <-got; err != nil {
			t.Fatalf("Next after Inject = %v", err)
		}
		cancel()
	})
}

func TestNoCameraSupport(t *testing.T) {
	if cvAvailable {
		t.Skip("built with OpenCV")
	}
	c, _ := New(Config{Source: "/dev/video0"})
	if err := c.Run(t.Context()); !errors.Is(err, ErrNoCamera) {
		t.Fatalf("Run = %v, want ErrNoCamera", err)
	}
}
