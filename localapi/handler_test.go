package localapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
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

// TestDenialDetailIsSafe: the path of a refused request is attacker
// controlled; its audit detail must stay one short line.
func TestDenialDetailIsSafe(t *testing.T) {
	var got []access.Event
	s := &Server{Group: -1, Audit: func(_ context.Context, ev access.Event) error { got = append(got, ev); return nil }}
	s.allow = func(Peer) (bool, string) { return false, "test" }
	pc := &peerConn{peer: Peer{PID: 9, UID: 1234}}
	path := "/v1/status%0A2026-03-12%20access.granted%20" + strings.Repeat("x", 500)
	r := httptest.NewRequestWithContext(context.WithValue(t.Context(), ctxKey{}, pc), "GET", path, nil)
	s.Handler().ServeHTTP(httptest.NewRecorder(), r)
	if len(got) != 1 {
		t.Fatalf("events %+v", got)
	}
	if d := got[0].Detail; strings.ContainsAny(d, "\n\r") || len(d) > 100 {
		t.Errorf("detail %q: want one short line", d)
	}
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

// eventsOnly is a Backend that answers Events only; the embedded nil
// interface makes any other call fail the test loudly.
type eventsOnly struct {
	Backend
	live chan access.Event
}

func (b eventsOnly) Events(ctx context.Context, n int, follow bool) ([]access.Event, <-chan access.Event, error) {
	return []access.Event{{ID: "old", Type: access.EventDaemon}}, b.live, nil
}

// lockedRecorder lets the test read what a handler on another goroutine
// writes.
type lockedRecorder struct {
	mu sync.Mutex
	*httptest.ResponseRecorder
}

func (r *lockedRecorder) Write(b []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.ResponseRecorder.Write(b)
}

func (r *lockedRecorder) WriteString(s string) (int, error) { return r.Write([]byte(s)) }

func (r *lockedRecorder) Flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ResponseRecorder.Flush()
}

// take returns and clears what was written so far.
func (r *lockedRecorder) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.Body.String()
	r.Body.Reset()
	return s
}

// TestStreamHeartbeat runs the events -f handler on a fake clock: an idle
// stream gets one blank line per Heartbeat, live events pass through, and
// the handler returns as soon as its request's context ends.
func TestStreamHeartbeat(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		live := make(chan access.Event)
		s := &Server{Group: -1, Backend: eventsOnly{live: live}}
		s.allow = func(Peer) (bool, string) { return true, "test" }
		ctx, cancel := context.WithCancel(context.WithValue(t.Context(), ctxKey{}, &peerConn{}))
		w := &lockedRecorder{ResponseRecorder: httptest.NewRecorder()}
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Handler().ServeHTTP(w, httptest.NewRequestWithContext(ctx, "GET", PathEvents+"?n=5&follow=1", nil))
		}()
		synctest.Wait()
		if got := w.take(); got != "{\"id\":\"old\",\"type\":\"daemon\",\"at\":\"0001-01-01T00:00:00Z\"}\n" {
			t.Fatalf("history = %q", got)
		}
		time.Sleep(3*DefaultHeartbeat + time.Second)
		synctest.Wait()
		if got := w.take(); got != "\n\n\n" {
			t.Errorf("after 3 heartbeats: %q, want three blank lines", got)
		}
		live <- access.Event{ID: "new", Type: access.EventREX}
		synctest.Wait()
		if got := w.take(); got != "{\"id\":\"new\",\"type\":\"door.rex\",\"at\":\"0001-01-01T00:00:00Z\"}\n" {
			t.Errorf("live event = %q", got)
		}
		cancel()
		synctest.Wait()
		select {
		case <-done:
		default:
			t.Fatal("stream handler still running after its context ended")
		}
	})
}

// explainOnly answers Explain with a refusal.
type explainOnly struct{ Backend }

func (explainOnly) Explain(ctx context.Context, c access.Credential) (access.Decision, error) {
	return access.Decision{Reason: access.ReasonUnknownCredential}, nil
}

// TestExplainRateLimit: explain cannot become a fast PIN oracle. Past the
// per-minute cap it answers 429 without reaching the engine, and the cap
// frees up as the minute slides.
func TestExplainRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := &Server{Group: -1, Backend: explainOnly{}, ExplainPerMinute: 3}
		s.allow = func(Peer) (bool, string) { return true, "test" }
		h := s.Handler()
		explain := func() int {
			body := strings.NewReader(`{"kind":"pin","value":"1234"}`)
			r := httptest.NewRequestWithContext(context.WithValue(t.Context(), ctxKey{}, &peerConn{}), "POST", PathExplain, body)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			return w.Code
		}
		var codes []int
		for range 4 {
			codes = append(codes, explain())
			time.Sleep(10 * time.Second)
		}
		time.Sleep(21 * time.Second) // the first call is now a minute old
		codes = append(codes, explain(), explain())
		want := []int{200, 200, 200, 429, 200, 429}
		if !slices.Equal(codes, want) {
			t.Errorf("codes %v, want %v", codes, want)
		}
		if st := s.Stats(); st.RateLimited != 2 || st.Audited != 4 {
			t.Errorf("stats %+v, want 2 limited and 4 audited", st)
		}
	})
}
