package access_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"sync"
	"testing"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/access/accesstest"
)

// TestHashIsTheDocumentedHMAC pins the stored form that the cloud computes
// too: HMAC-SHA256(siteKey, kind || 0x00 || normalised value).
func TestHashIsTheDocumentedHMAC(t *testing.T) {
	h := accesstest.Hasher()
	cases := []struct {
		kind      access.Kind
		in, canon string
	}{
		{access.KindPIN, "1234", "1234"},
		{access.KindQR, "00112233445566778899AABBCCDDEEFF", "00112233445566778899aabbccddeeff"},
		{access.KindCard, "012:0345", "12:345"},
		{access.KindPlate, "ab-123 c", "AB123C"},
	}
	var wg sync.WaitGroup
	for _, c := range cases {
		m := hmac.New(sha256.New, accesstest.SiteKey)
		m.Write([]byte(c.kind.String() + "\x00" + c.canon))
		var want access.Hash
		copy(want[:], m.Sum(nil))
		for range 50 { // concurrent callers share the recycled HMAC states
			wg.Go(func() {
				got, err := h.Hash(c.kind, c.in)
				if err != nil || got != want {
					t.Errorf("%s %q: got %s, %v; want %s", c.kind, c.in, got, err, want)
				}
			})
		}
	}
	wg.Wait()
	a, _ := h.Hash(access.KindPIN, "12345")
	b, _ := h.Hash(access.KindCard, "1:2345")
	if a == b {
		t.Error("a pin and a card hash alike")
	}
	if _, err := access.NewHasher([]byte("short")); err == nil {
		t.Error("short site key accepted")
	}
}
