package localapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/intercomd/intercomd/access"
)

func TestEnums(t *testing.T) {
	for _, a := range []RelayAction{RelayPulse, RelayLock, RelayUnlock} {
		b, _ := a.MarshalText()
		var got RelayAction
		if err := got.UnmarshalText(b); err != nil || got != a {
			t.Errorf("relay action %v round trip = %v, %v", a, got, err)
		}
	}
	for _, k := range []SimKind{SimCard, SimPIN, SimQR, SimREX, SimDoor} {
		b, _ := k.MarshalText()
		var got SimKind
		if err := got.UnmarshalText(b); err != nil || got != k {
			t.Errorf("sim kind %v round trip = %v, %v", k, got, err)
		}
	}
	if s := RelayAction(0).String(); s != "relayaction(0)" {
		t.Errorf("zero relay action = %q", s)
	}
	if s := SimKind(9).String(); s != "simkind(9)" {
		t.Errorf("sim kind 9 = %q", s)
	}
	if _, err := ParseRelayAction("open"); err == nil {
		t.Error(`ParseRelayAction("open") succeeded`)
	}
	var d Duration
	if err := d.UnmarshalText([]byte("1m30s")); err != nil || d.String() != "1m30s" {
		t.Errorf("duration = %v, %v", d, err)
	}
}

// TestDenialEventsRateLimited: a refused peer is counted every time but
// audited at most once a minute per uid, so it cannot flood the outbox.
func TestDenialEventsRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var evs []access.Event
		s := &Server{Group: -1, Audit: func(_ context.Context, ev access.Event) error {
			mu.Lock()
			evs = append(evs, ev)
			mu.Unlock()
			return nil
		}}
		s.allow = func(p Peer) (bool, string) { return p.UID == 0, "test" }
		h := s.Handler()
		get := func(uid uint32) int {
			pc := &peerConn{peer: Peer{PID: 7, UID: uid, GID: uid}}
			r := httptest.NewRequestWithContext(context.WithValue(t.Context(), ctxKey{}, pc), "GET", PathStatus, nil)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w.Code
		}
		for range 5 {
			if code := get(1000); code != http.StatusForbidden {
				t.Fatalf("uid 1000: status %d, want 403", code)
			}
		}
		get(1001)
		time.Sleep(59 * time.Second)
		get(1000)
		time.Sleep(time.Second)
		get(1000)
		if got := s.Stats().Denied; got != 8 {
			t.Errorf("Denied = %d, want 8", got)
		}
		mu.Lock()
		defer mu.Unlock()
		var uids []int
		for _, ev := range evs {
			uids = append(uids, *ev.UID)
		}
		if len(uids) != 3 || uids[0] != 1000 || uids[1] != 1001 || uids[2] != 1000 {
			t.Errorf("denial events for uids %v, want [1000 1001 1000]", uids)
		}
	})
}

// TestNoPeerRefused: a request that did not come through Serve's listener
// (no peer credentials) is refused, never served.
func TestNoPeerRefused(t *testing.T) {
	s := &Server{Group: -1}
	w := httptest.NewRecorder()
	s.Handler().ServeHTTP(w, httptest.NewRequest("GET", PathStatus, nil))
	if w.Code != http.StatusForbidden {
		t.Errorf("status %d, want 403", w.Code)
	}
}
