package keypad

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/intercomd/intercomd/access"
)

type step struct {
	key  byte
	at   time.Duration // since the start
	want Result
}

var t0 = time.Date(2026, 3, 29, 1, 59, 58, 0, time.UTC)

func TestEntry(t *testing.T) {
	none := Result{}
	submit := func(pin string) Result { return Result{Outcome: OutcomeSubmit, PIN: pin} }
	ms := time.Millisecond
	cases := []struct {
		name  string
		max   int
		steps []step
	}{
		{"submit", 0, []step{{'1', 0, none}, {'2', 200 * ms, none}, {'3', 400 * ms, none}, {'4', 600 * ms, none}, {'#', 800 * ms, submit("1234")}}},
		{"clear then submit", 0, []step{{'9', 0, none}, {'9', ms, none}, {'*', 2 * ms, Result{Outcome: OutcomeCleared}}, {'5', 3 * ms, none}, {'6', 4 * ms, none}, {'#', 5 * ms, submit("56")}}},
		{"star on empty is quiet", 0, []step{{'*', 0, none}, {'#', ms, none}}},
		{"hash on empty submits nothing", 0, []step{{'#', 0, none}}},
		{"gap just under timeout keeps digits", 0, []step{{'1', 0, none}, {'2', 4999 * ms, none}, {'#', 9998 * ms, submit("12")}}},
		{"gap of timeout discards", 0, []step{{'1', 0, none}, {'2', 5 * time.Second, Result{Expired: true}}, {'3', 5100 * ms, none}, {'#', 5200 * ms, submit("23")}}},
		{"hash after timeout submits nothing", 0, []step{{'1', 0, none}, {'2', ms, none}, {'#', 6 * time.Second, Result{Expired: true}}}},
		{"twelve digits ok", 0, append(digits("123456789012", 100*ms), step{'#', 1300 * ms, submit("123456789012")})},
		{"thirteenth digit discards", 0, append(digits("123456789012", 100*ms),
			step{'3', 1300 * ms, Result{Outcome: OutcomeTooLong}}, step{'4', 1400 * ms, none},
			step{'#', 1500 * ms, none}, step{'7', 1600 * ms, none}, step{'#', 1700 * ms, submit("7")})},
		{"overflow ends with star", 4, []step{{'1', 0, none}, {'2', 0, none}, {'3', 0, none}, {'4', 0, none},
			{'5', 0, Result{Outcome: OutcomeTooLong}}, {'*', ms, none}, {'8', 2 * ms, none}, {'#', 3 * ms, submit("8")}}},
		{"overflow ends with timeout", 4, []step{{'1', 0, none}, {'2', 0, none}, {'3', 0, none}, {'4', 0, none},
			{'5', 0, Result{Outcome: OutcomeTooLong}}, {'6', 4 * time.Second, none}, {'8', 9 * time.Second, Result{Expired: true}}, {'#', 9 * time.Second, submit("8")}}},
		{"invalid key keeps digits", 0, []step{{'1', 0, none}, {'A', ms, Result{Outcome: OutcomeInvalidKey}}, {STX, 2 * ms, Result{Outcome: OutcomeInvalidKey}}, {'2', 3 * ms, none}, {'#', 4 * ms, submit("12")}}},
		{"clock step backwards is not a timeout", 0, []step{{'1', time.Hour, none}, {'2', 0, none}, {'#', ms, submit("12")}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := Entry{MaxDigits: tc.max}
			for i, s := range tc.steps {
				if got := e.Key(s.key, t0.Add(s.at)); got != s.want {
					t.Fatalf("step %d (%q at %v): got %+v, want %+v", i, s.key, s.at, got, s.want)
				}
			}
			if e.Pending() {
				t.Fatalf("entry still pending after the last step: %d digits", e.Len())
			}
		})
	}
}

func digits(s string, gap time.Duration) []step {
	var out []step
	for i := range len(s) {
		out = append(out, step{s[i], time.Duration(i) * gap, Result{}})
	}
	return out
}

func TestEntryDeadlineAndExpire(t *testing.T) {
	e := Entry{DigitTimeout: 2 * time.Second}
	if _, ok := e.Deadline(); ok || e.Expire(t0) {
		t.Fatal("an empty entry has a deadline or expires")
	}
	e.Key('4', t0)
	d, ok := e.Deadline()
	if !ok || !d.Equal(t0.Add(2*time.Second)) {
		t.Fatalf("Deadline() = %v, %v; want %v", d, ok, t0.Add(2*time.Second))
	}
	if e.Expire(d.Add(-time.Nanosecond)) || !e.Pending() {
		t.Fatal("expired before the deadline")
	}
	if !e.Expire(d) || e.Pending() {
		t.Fatal("did not expire at the deadline")
	}
	if got := e.Key('#', d); got.Outcome != OutcomeNone {
		t.Fatalf("submit after expiry = %+v, want nothing", got)
	}
}

// syncWriter collects the reader's writes to the keypad.
type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// frames parses everything written so far, dropping polls.
func (w *syncWriter) frames(t *testing.T) []Frame {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	var p Parser
	all, errs := p.Feed(w.buf.Bytes())
	if errs != 0 {
		t.Fatalf("reader wrote %d bad frames", errs)
	}
	return slices.DeleteFunc(all, func(f Frame) bool { return f.Type == MsgPoll })
}

func feedbackOf(t *testing.T, fs []Frame) []Feedback {
	t.Helper()
	if len(fs)%2 != 0 {
		t.Fatalf("odd number of feedback frames: %v", fs)
	}
	var out []Feedback
	for i := 0; i < len(fs); i += 2 {
		l, err1 := fs[i].LED()
		b, err2 := fs[i+1].Buzzer()
		if err1 != nil || err2 != nil {
			t.Fatalf("feedback frames %v: %v %v", fs[i:i+2], err1, err2)
		}
		out = append(out, Feedback{l, b})
	}
	return out
}

// TestLoopDigitTimeout runs the reader's PIN loop in a synctest bubble: the
// inter-digit timer fires on fake time, with no sleeps.
func TestLoopDigitTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []access.Credential
		decide := func(_ context.Context, c access.Credential) access.Decision {
			got = append(got, c)
			return access.Decision{Grant: c.Value == "3456", Reason: access.ReasonUnknownCredential}
		}
		r := New(Config{ID: "kp-test"}, nil, decide, nil, nil)
		ctx, cancel := context.WithCancel(t.Context())
		keys := make(chan keyPress)
		w := &syncWriter{}
		done := make(chan error)
		go func() { done <- r.loop(ctx, keys, nil, w) }()
		press := func(s string, gap time.Duration) {
			for i := range len(s) {
				keys <- keyPress{key: s[i], at: time.Now()}
				time.Sleep(gap)
			}
		}
		press("12", 300*time.Millisecond)
		time.Sleep(4 * time.Second)
		synctest.Wait()
		if st := r.Stats(); st.Timeouts != 0 {
			t.Fatalf("timed out after 4.3 s of a 5 s timeout")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		st := r.Stats()
		if st.Timeouts != 1 {
			t.Fatalf("Timeouts = %d after 5.3 s idle, want 1", st.Timeouts)
		}
		if fb := feedbackOf(t, w.frames(t)); len(fb) != 1 || fb[0] != FeedbackDiscard {
			t.Fatalf("feedback after timeout = %+v, want [discard]", fb)
		}
		press("3456#", 100*time.Millisecond)
		synctest.Wait()
		if len(got) != 1 || got[0].Value != "3456" || got[0].Kind != access.KindPIN || got[0].Reader != "kp-test" {
			t.Fatalf("credentials = %+v, want one pin 3456 from kp-test", got)
		}
		if fb := feedbackOf(t, w.frames(t)); len(fb) != 2 || fb[1] != FeedbackGrant {
			t.Fatalf("feedback = %+v, want [discard grant]", fb)
		}
		// 60 s of idle: polls every second, no further timeouts.
		time.Sleep(time.Minute)
		synctest.Wait()
		if st := r.Stats(); st.Timeouts != 1 || st.PINsSubmitted != 1 || st.Grants != 1 {
			t.Fatalf("stats after idle: %+v", st)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("loop returned %v on cancel, want nil", err)
		}
	})
}

func TestLoopTooLongAndFeedback(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []access.Event
		var mu sync.Mutex
		emit := func(e access.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }
		decisions := map[string]access.Decision{
			"1111": {Grant: true, Reason: access.ReasonGranted},
			"2222": {Reason: access.ReasonExpired},
			"3333": {Reason: access.ReasonKeypadLockedOut, At: time.Now(), Lockout: &access.LockoutState{Until: time.Now().Add(30 * time.Second)}},
		}
		decide := func(_ context.Context, c access.Credential) access.Decision { return decisions[c.Value] }
		r := New(Config{}, nil, decide, emit, nil)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		keys := make(chan keyPress)
		w := &syncWriter{}
		go r.loop(ctx, keys, nil, w)
		for _, s := range []string{"1111#", "2222#", "3333#", "1234567890123#"} {
			for i := range len(s) {
				keys <- keyPress{key: s[i], at: time.Now()}
				time.Sleep(50 * time.Millisecond)
			}
		}
		synctest.Wait()
		// The lockout LED lasts for the rest of the block: Until - At.
		lock := FeedbackLockout
		lock.LED.Duration = 30 * time.Second
		want := []Feedback{FeedbackGrant, FeedbackDeny, lock, FeedbackDiscard}
		if got := feedbackOf(t, w.frames(t)); !slices.Equal(got, want) {
			t.Fatalf("feedback = %+v, want %+v", got, want)
		}
		st := r.Stats()
		if st.Grants != 1 || st.Denies != 1 || st.Lockouts != 1 || st.TooLong != 1 || st.PINsSubmitted != 3 {
			t.Errorf("stats = %+v", st)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(events) != 1 || events[0].Type != access.EventBadInput || events[0].Reader != DefaultID {
			t.Fatalf("events = %+v, want one input.rejected", events)
		}
		if s := fmt.Sprintf("%+v", events[0]); strings.Contains(s, "1234567890") {
			t.Fatalf("event carries digits: %s", s)
		}
	})
}

func TestFeedbackForLockoutDuration(t *testing.T) {
	now := time.Now()
	d := access.Decision{Reason: access.ReasonKeypadLockedOut, At: now, Lockout: &access.LockoutState{Until: now.Add(50 * time.Second)}}
	if got := FeedbackFor(d); got.LED.Duration != 50*time.Second || got.LED.Colour != Red || got.LED.Pattern != BlinkFast {
		t.Fatalf("lockout feedback = %+v, want red fast blink for 50s", got)
	}
	d.Lockout.Until = now.Add(2 * time.Minute)
	if got := FeedbackFor(d); got.LED.Duration != 65535*time.Millisecond {
		t.Fatalf("2 min lockout LED = %v, want the 65.535 s wire maximum", got.LED.Duration)
	}
	d.Lockout.Until = now.Add(time.Second)
	if got := FeedbackFor(d); got.LED.Duration != 5*time.Second {
		t.Fatalf("short lockout LED = %v, want the 5 s minimum", got.LED.Duration)
	}
	// The wrong PIN that starts a block is refused as unknown, with the new
	// block's state: it shows the lockout too.
	first := access.Decision{Reason: access.ReasonUnknownCredential, At: now, Lockout: &access.LockoutState{Until: now.Add(30 * time.Second)}}
	if got := FeedbackFor(first); got.LED.Pattern != BlinkFast || got.LED.Duration != 30*time.Second {
		t.Fatalf("blocking wrong PIN feedback = %+v, want lockout for 30s", got)
	}
	// A wrong PIN that only records a failure (Until in the past) is a deny.
	first.Lockout.Until = time.Time{}
	if got := FeedbackFor(first); got != FeedbackDeny {
		t.Fatalf("wrong PIN feedback = %+v, want deny", got)
	}
}

// TestSupervise checks online/offline transitions on fake time.
func TestSupervise(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var events []access.Event
		r := New(Config{ID: "kp"}, nil, nil, func(e access.Event) { mu.Lock(); events = append(events, e); mu.Unlock() }, nil)
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { r.supervise(ctx); close(done) }()
		types := func() []string {
			synctest.Wait()
			mu.Lock()
			defer mu.Unlock()
			var s []string
			for _, e := range events {
				s = append(s, string(e.Type)+"@"+e.At.Sub(t0).String())
			}
			return s
		}
		start := time.Now()
		at := func(d time.Duration) string { return start.Add(d).Sub(t0).String() }
		// No keypad at boot: offline after 3 s.
		time.Sleep(3*time.Second + time.Millisecond)
		if got, want := types(), []string{"reader.offline@" + at(3*time.Second)}; !slices.Equal(got, want) {
			t.Fatalf("events = %v, want %v", got, want)
		}
		// Heartbeats every second for 10 s: online once.
		for range 10 {
			r.hb <- struct{}{}
			time.Sleep(time.Second)
		}
		if got := types(); len(got) != 2 || !strings.HasPrefix(got[1], "reader.online@") || !r.Stats().Online {
			t.Fatalf("events = %v, online %v; want offline, online", got, r.Stats().Online)
		}
		// Silence: offline 3 s after the last heartbeat, not before.
		time.Sleep(time.Second + 900*time.Millisecond)
		if got := types(); len(got) != 2 {
			t.Fatalf("offline too early: %v", got)
		}
		time.Sleep(200 * time.Millisecond)
		if got := types(); len(got) != 3 || !strings.HasPrefix(got[2], "reader.offline@") || r.Stats().Online {
			t.Fatalf("events = %v; want a second offline", got)
		}
		// Back, then the port is lost: offline at once.
		r.hb <- struct{}{}
		time.Sleep(100 * time.Millisecond)
		r.lost <- struct{}{}
		if got := types(); len(got) != 5 || !strings.HasPrefix(got[4], "reader.offline@") {
			t.Fatalf("events = %v; want online then offline on port loss", got)
		}
		if st := r.Stats(); st.OfflineEvents != 3 {
			t.Fatalf("OfflineEvents = %d, want 3", st.OfflineEvents)
		}
		cancel()
		<-done
	})
}

var _ io.Writer = (*syncWriter)(nil)

// FuzzEntry feeds arbitrary key codes at arbitrary gaps (the key codes come
// off the wire) and checks the entry's invariants.
func FuzzEntry(f *testing.F) {
	f.Add([]byte("1234#"), []byte{1, 1, 1, 1, 1}, uint8(0))
	f.Add([]byte("12*34#"), []byte{1, 60, 1, 1, 1, 1}, uint8(4))
	f.Add([]byte("1234567890123#9#"), []byte{}, uint8(0))
	f.Add([]byte{'1', STX, 0xFF, '#'}, []byte{200, 0, 0, 0}, uint8(12))
	f.Fuzz(func(t *testing.T, keys, gaps []byte, maxDigits uint8) {
		e := Entry{MaxDigits: int(maxDigits)}
		limit := e.max()
		at := t0
		for i, k := range keys {
			if i < len(gaps) {
				at = at.Add(time.Duration(gaps[i]) * 100 * time.Millisecond) // up to 25.5 s
			}
			r := e.Key(k, at)
			if e.Len() > limit {
				t.Fatalf("entry holds %d digits, limit %d", e.Len(), limit)
			}
			if r.Outcome == OutcomeSubmit {
				if k != '#' || len(r.PIN) == 0 || len(r.PIN) > limit || strings.Trim(r.PIN, "0123456789") != "" {
					t.Fatalf("submit %q on key %q", r.PIN, k)
				}
				if e.Pending() {
					t.Fatal("entry pending after a submit")
				}
			} else if r.PIN != "" {
				t.Fatalf("outcome %v carries a PIN", r.Outcome)
			}
		}
	})
}

// TestLoopDrainsKeysOnReadError: a '#' read just before the line failed is
// still decided.
func TestLoopDrainsKeysOnReadError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var got []string
		decide := func(_ context.Context, c access.Credential) access.Decision {
			got = append(got, c.Value)
			return access.Decision{}
		}
		r := New(Config{}, nil, decide, nil, nil)
		keys := make(chan keyPress, 8)
		for _, k := range []byte("2468#") {
			keys <- keyPress{key: k, at: time.Now()}
		}
		readErr := make(chan error, 1)
		readErr <- fmt.Errorf("port gone")
		// Both channels are ready; whichever the select takes first, the
		// PIN must be decided before loop returns.
		if err := r.loop(t.Context(), keys, readErr, &syncWriter{}); err == nil {
			t.Fatal("loop returned nil after a read error")
		}
		if len(got) != 1 || got[0] != "2468" {
			t.Fatalf("decided %v, want [2468]", got)
		}
	})
}
