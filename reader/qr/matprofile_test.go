//go:build matprofile && cgo && !nocamera

package qr

import (
	"testing"

	"gocv.io/x/gocv"
)

// TestDecoderMats checks with gocv's accounting (-tags matprofile) that the
// decoder, DecodeAll and Snapshot leave no Mat open.
func TestDecoderMats(t *testing.T) {
	base := gocv.MatProfile.Count()
	for _, fx := range fixtures(t) {
		g := load(t, fx.name)
		d := NewDecoder()
		if _, err := d.DecodeAll(g); err != nil {
			t.Fatal(err)
		}
		d.Close()
		if _, err := Snapshot(g); err != nil {
			t.Fatal(err)
		}
	}
	if n := gocv.MatProfile.Count(); n != base {
		t.Fatalf("MatProfile count %d after decoding, want %d", n, base)
	}
}
