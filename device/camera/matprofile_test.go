//go:build matprofile && cgo && !nocamera

package camera

import (
	"bytes"
	"context"
	"testing"

	"gocv.io/x/gocv"
)

// TestMatProfile checks with gocv's own accounting (built with -tags
// matprofile) that capturing a video leaves no Mat open.
func TestMatProfile(t *testing.T) {
	path := testVideo(t)
	base := gocv.MatProfile.Count()
	c, err := New(Config{Source: path, FPS: 500})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()
	drain(ctx, t, c)
	cancel()
	<-done
	if n := gocv.MatProfile.Count(); n != base {
		var b bytes.Buffer
		gocv.MatProfile.WriteTo(&b, 1)
		t.Fatalf("MatProfile count %d, want %d:\n%s", n, base, b.String())
	}
}
