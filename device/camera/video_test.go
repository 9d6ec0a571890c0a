//go:build cgo && !nocamera

package camera

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/reader/qr"
	"github.com/intercomd/intercomd/reader/qr/qrtest"
)

const (
	videoToken  = "VK1:0123456789abcdef0123456789abcdef"
	videoFrames = 24
	videoCodeAt = 8 // first frame (0-based) showing the code
	videoFPS    = 30
)

var (
	videoOnce sync.Once
	videoPath string
	videoErr  error
)

// testVideo returns an MJPEG AVI of videoFrames 1280x720 frames of one scene,
// where a visitor's phone shows a code from frame videoCodeAt on. It is
// built once per version under os.TempDir(), as rendering takes a second.
func testVideo(t testing.TB) string {
	t.Helper()
	videoOnce.Do(func() {
		videoPath = filepath.Join(os.TempDir(), "intercomd-camera-test-v1.avi")
		if st, err := os.Stat(videoPath); err == nil && st.Size() > 0 {
			return
		}
		rng := rand.New(rand.NewPCG(42, 42))
		with := qrtest.Random(rng, 1280, 720, videoToken)
		with.Codes[0].Inverted = false
		without := with
		without.Codes = nil
		var frames []qr.Gray
		for i := range videoFrames {
			s := without
			if i >= videoCodeAt {
				s = with
			}
			s.Seed = with.Seed + uint64(i) // fresh sensor noise per frame
			g, err := qrtest.Render(s)
			if err != nil {
				videoErr = err
				return
			}
			frames = append(frames, g)
		}
		tmp := videoPath + fmt.Sprintf(".%d.avi", os.Getpid())
		if videoErr = qrtest.WriteVideo(tmp, frames, videoFPS); videoErr == nil {
			videoErr = os.Rename(tmp, videoPath)
		}
	})
	if videoErr != nil {
		t.Fatal(videoErr)
	}
	return videoPath
}

// TestVideoFile reads a real MJPEG AVI through gocv's VideoCapture: every
// frame arrives gray, in order, at the file's pace, and no Mat is leaked.
func TestVideoFile(t *testing.T) {
	path := testVideo(t)
	before := liveMats.Load()
	c, err := New(Config{Source: path, FPS: 200})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	var seqs []uint64
	for _, f := range drain(ctx, t, c) {
		if f.Width != 1280 || f.Height != 720 || f.Stride != 1280 || len(f.Pix) != 1280*720 {
			t.Fatalf("frame %d is %dx%d stride %d, %d bytes", f.Seq, f.Width, f.Height, f.Stride, len(f.Pix))
		}
		seqs = append(seqs, f.Seq)
	}
	s := c.Stats()
	if s.Frames != videoFrames || uint64(len(seqs))+s.Dropped != videoFrames || !slices.IsSorted(seqs) {
		t.Fatalf("captured %d frames, took %d, dropped %d; want %d in order", s.Frames, len(seqs), s.Dropped, videoFrames)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := liveMats.Load(); n != before {
		t.Fatalf("%d Mats left open", n-before)
	}
}

// TestReopenWithBackoff: a live source that is missing is retried with
// growing delays and picked up once it appears; a lost source is reopened.
func TestReopenWithBackoff(t *testing.T) {
	src := testVideo(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "stream.avi")
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var states []bool
		c, err := New(Config{Source: path, Kind: KindURL, BackoffMin: 100 * time.Millisecond, BackoffMax: time.Second,
			OnState: func(on bool, _ error) { mu.Lock(); states = append(states, on); mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()
		time.Sleep(1200 * time.Millisecond)
		// Attempts at about 0, 0.1, 0.3, 0.7 s (±20%), the next near 1.5 s.
		if n := c.Stats().OpenErrors; n < 3 || n > 5 {
			t.Fatalf("%d open attempts in 1.2 s, want 4 with 100 ms doubling backoff", n)
		}
		b, _ := os.ReadFile(src)
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := c.Next(ctx) // arrives once the backoff (≤ 1 s) retries
		if err != nil || f.Width != 1280 {
			t.Fatalf("no frame after the source appeared: %v", err)
		}
		time.Sleep(2 * time.Second) // the file ends: lost, reopened
		s := c.Stats()
		if s.Opens < 2 || s.Lost < 1 || s.Frames < videoFrames {
			t.Errorf("stats %+v: want the ended stream reopened", s)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(states) < 3 || states[0] || !states[1] {
			t.Errorf("OnState saw %v, want offline, online, offline...", states)
		}
	})
	if n := liveMats.Load(); n != 0 {
		t.Fatalf("%d Mats left open", n)
	}
}

// framesToDecision plays the test video at 30 fps into a camera, decodes it
// with the QR reader (2 workers, as on the board) and returns how many frames
// the camera captured after the first frame showing the code before the
// credential was decided.
func framesToDecision(t testing.TB) int {
	c, err := New(Config{Source: testVideo(t), FPS: videoFPS})
	if err != nil {
		t.Fatal(err)
	}
	r := qr.New(qr.Config{ID: "camera0", Workers: 2})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	out := make(chan access.Credential)
	wg.Go(func() { c.Run(ctx) })
	wg.Go(func() { r.Run(ctx, c, out) })
	select {
	case cred := <-out:
		n := int(c.Stats().Frames) - (videoCodeAt + 1)
		if cred.Value != videoToken[4:] || cred.Kind != access.KindQR {
			t.Fatalf("credential %v from %s", cred.Kind, cred.Reader)
		}
		return n
	case <-time.After(10 * time.Second):
		t.Fatalf("no credential from the video; reader stats %+v, camera %+v", r.Stats(), c.Stats())
	}
	return -1
}

// TestTimeToUnlock: the credential is decided from the first frame, or
// within two frames, of the code appearing. The frames are read from the
// video through the camera and decoded in order, so the figure does not
// depend on the machine's load; BenchmarkTimeToUnlock measures it in real
// time at 30 fps, and this test also runs that once as a sanity check.
func TestTimeToUnlock(t *testing.T) {
	c, err := New(Config{Source: testVideo(t), FPS: 240})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	frames := drain(ctx, t, c)
	cancel()
	<-done
	r := qr.New(qr.Config{})
	d := qr.NewDecoder()
	defer d.Close()
	decidedAt := -1
	for _, f := range frames {
		i := int(f.Seq) - 1 // frame index in the video
		if creds := r.Process(d, f); len(creds) > 0 {
			if i < videoCodeAt || creds[0].Value != videoToken[4:] {
				t.Fatalf("frame %d: credential before the code appeared", i)
			}
			decidedAt = i
			break
		}
	}
	if decidedAt < 0 {
		t.Fatalf("no credential from %d frames", len(frames))
	}
	if n := decidedAt - videoCodeAt; n > 2 {
		t.Fatalf("decided at frame %d, %d frames after the code appeared; want at most 2", decidedAt, n)
	}
	if raceEnabled {
		return // real-time figures mean nothing under the race detector
	}
	n := framesToDecision(t)
	t.Logf("in real time at 30 fps: decided %d frames after the code appeared", n)
	if n < 0 || n > 15 {
		t.Errorf("in real time the credential came %d frames after the code; want about 2", n)
	}
}

func BenchmarkTimeToUnlock(b *testing.B) {
	var runs []int
	for range 7 {
		runs = append(runs, framesToDecision(b))
	}
	slices.Sort(runs)
	fmt.Printf("BENCH qr_frames_to_decision %d frames\n", runs[len(runs)/2])
	fmt.Printf("BENCH qr_frames_to_decision_max %d frames\n", runs[len(runs)-1])
}

// TestHTTPStream reads the test video from an HTTP server through FFmpeg,
// as an IP camera's stream, then loses the server: the camera reports the
// loss (its retries are tested under synctest in TestReopenWithBackoff).
func TestHTTPStream(t *testing.T) {
	path := testVideo(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, path)
	}))
	defer srv.Close()
	states := make(chan bool, 16)
	c, err := New(Config{Source: srv.URL + "/stream.avi", BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		OnState: func(on bool, _ error) {
			select {
			case states <- on:
			default:
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Kind != KindURL {
		t.Fatalf("kind %v, want url", c.cfg.Kind)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	f, err := c.Next(ctx)
	if err != nil || f.Width != 1280 || f.Height != 720 {
		t.Fatalf("first frame over HTTP: %dx%d, %v", f.Width, f.Height, err)
	}
	if on := <-states; !on {
		t.Fatal("first state is offline")
	}
	srv.Close()
	select {
	case on := <-states:
		if on {
			t.Fatal("online again without a server")
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("loss of the stream not reported; stats %+v", c.Stats())
	}
	if s := c.Stats(); s.Lost < 1 || s.Frames < 1 {
		t.Errorf("stats %+v: want frames, then the loss counted", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestV4L2Device opens a real camera; it is opt-in:
// INTERCOMD_TEST_CAMERA=/dev/video0 go test -run V4L2 ./device/camera
func TestV4L2Device(t *testing.T) {
	dev := os.Getenv("INTERCOMD_TEST_CAMERA")
	if dev == "" {
		t.Skip("set INTERCOMD_TEST_CAMERA=/dev/videoN to test a real camera")
	}
	c, err := New(Config{Source: dev, Width: 1280, Height: 720})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	for range 10 {
		f, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("no frame from %s: %v (stats %+v)", dev, err, c.Stats())
		}
		if f.Width == 0 || len(f.Pix) < f.Width*f.Height {
			t.Fatalf("bad frame %dx%d", f.Width, f.Height)
		}
	}
	cancel()
	<-done
}
