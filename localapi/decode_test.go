package localapi

import (
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
)

// secret is a credential value that must never appear in an error message.
const secret = "987654321"

type decodeCase struct {
	name string
	kind string // which decoder: explain, relay, loglevel, lockdown, sim
	body string
	ok   bool
}

var decodeCases = []decodeCase{
	{"explain pin", "explain", `{"kind":"pin","value":"` + secret + `","reader":"keypad0"}`, true},
	{"explain web with visit", "explain", `{"kind":"web","value":"tok","visit_id":"v-1"}`, true},
	{"explain no kind", "explain", `{"value":"` + secret + `"}`, false},
	{"explain unknown kind", "explain", `{"kind":"iris","value":"` + secret + `"}`, false},
	{"explain empty value", "explain", `{"kind":"pin","value":""}`, false},
	{"explain long value", "explain", `{"kind":"pin","value":"` + strings.Repeat("1", 1025) + `"}`, false},
	{"explain bad reader", "explain", `{"kind":"pin","value":"1234","reader":"key pad"}`, false},
	{"explain unknown field", "explain", `{"kind":"pin","value":"1234","grant":true}`, false},
	{"explain value not string", "explain", `{"kind":"pin","value":987654321}`, false},
	{"explain trailing", "explain", `{"kind":"pin","value":"1234"}{"kind":"pin"}`, false},
	{"explain syntax", "explain", `{"kind":"pin","value":"` + secret + `"`, false},
	{"explain secret in syntax error", "explain", `{"kind":"pin","value":` + secret + `x}`, false},
	{"explain empty", "explain", ``, false},
	{"relay pulse", "relay", `{"action":"pulse","for":"5s"}`, true},
	{"relay pulse default", "relay", `{"action":"pulse"}`, true},
	{"relay lock", "relay", `{"action":"lock"}`, true},
	{"relay unlock", "relay", `{"action":"unlock"}`, true},
	{"relay pulse too long", "relay", `{"action":"pulse","for":"61s"}`, false},
	{"relay pulse too short", "relay", `{"action":"pulse","for":"10ms"}`, false},
	{"relay negative", "relay", `{"action":"pulse","for":"-5s"}`, false},
	{"relay lock with time", "relay", `{"action":"lock","for":"5s"}`, false},
	{"relay bad duration", "relay", `{"action":"pulse","for":"soon"}`, false},
	{"relay no action", "relay", `{}`, false},
	{"relay bad action", "relay", `{"action":"open"}`, false},
	{"relay number action", "relay", `{"action":1}`, false},
	{"loglevel debug", "loglevel", `{"level":"debug"}`, true},
	{"loglevel WARN", "loglevel", `{"level":"WARN"}`, true},
	{"loglevel bad", "loglevel", `{"level":"loud"}`, false},
	{"loglevel empty", "loglevel", `{}`, false},
	{"lockdown on", "lockdown", `{"on":true}`, true},
	{"lockdown off", "lockdown", `{"on":false}`, true},
	{"lockdown missing", "lockdown", `{}`, false},
	{"lockdown null", "lockdown", `{"on":null}`, false},
	{"lockdown string", "lockdown", `{"on":"yes"}`, false},
	{"sim card", "sim", `{"kind":"card","card":"12:` + secret + `"}`, true},
	{"sim card format", "sim", `{"kind":"card","card":"12:345","format":"h10302"}`, true},
	{"sim card bad", "sim", `{"kind":"card","card":"` + secret + `"}`, false},
	{"sim card with pin", "sim", `{"kind":"card","card":"12:345","pin":"1234"}`, false},
	{"sim pin", "sim", `{"kind":"pin","pin":"` + secret + `"}`, true},
	{"sim pin letters", "sim", `{"kind":"pin","pin":"12a4"}`, false},
	{"sim pin long", "sim", `{"kind":"pin","pin":"12345678901234567"}`, false},
	{"sim qr payload", "sim", `{"kind":"qr","qr":"` + secret + `"}`, true},
	{"sim qr image", "sim", `{"kind":"qr","image":"/9j/4AAQ"}`, true},
	{"sim qr both", "sim", `{"kind":"qr","qr":"x","image":"/9j/4AAQ"}`, false},
	{"sim qr none", "sim", `{"kind":"qr"}`, false},
	{"sim qr bad base64", "sim", `{"kind":"qr","image":"!!"}`, false},
	{"sim rex", "sim", `{"kind":"rex"}`, true},
	{"sim rex with door", "sim", `{"kind":"rex","door":"open"}`, false},
	{"sim door open", "sim", `{"kind":"door","door":"open"}`, true},
	{"sim door close", "sim", `{"kind":"door","door":"close"}`, true},
	{"sim door ajar", "sim", `{"kind":"door","door":"ajar"}`, false},
	{"sim no kind", "sim", `{"pin":"1234"}`, false},
	{"sim bad kind", "sim", `{"kind":"face"}`, false},
}

func decodeAny(kind string, body []byte) (any, error) {
	switch kind {
	case "explain":
		return DecodeExplain(body)
	case "relay":
		return DecodeRelay(body)
	case "loglevel":
		return DecodeLogLevel(body)
	case "lockdown":
		return DecodeLockdown(body)
	case "sim":
		return DecodeSim(body)
	}
	return nil, errors.New("no such decoder")
}

func TestDecode(t *testing.T) {
	for _, tt := range decodeCases {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeAny(tt.kind, []byte(tt.body))
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrBadRequest) {
					t.Errorf("err = %v, want ErrBadRequest", err)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q leaks the credential value", err)
				}
			}
		})
	}
}

func TestDecodeValues(t *testing.T) {
	e, err := DecodeExplain([]byte(`{"kind":"qr","value":"ab","reader":"camera0","visit_id":"v1"}`))
	if err != nil || e.Kind != access.KindQR || e.Value != "ab" || e.Reader != "camera0" || e.VisitID != "v1" {
		t.Errorf("explain = %+v, %v", e, err)
	}
	r, err := DecodeRelay([]byte(`{"action":"pulse","for":"1500ms"}`))
	if err != nil || r.Action != RelayPulse || time.Duration(r.For) != 1500*time.Millisecond {
		t.Errorf("relay = %+v, %v", r, err)
	}
	l, err := DecodeLogLevel([]byte(`{"level":"debug"}`))
	if err != nil || l != slog.LevelDebug {
		t.Errorf("log level = %v, %v", l, err)
	}
	on, err := DecodeLockdown([]byte(`{"on":true}`))
	if err != nil || !on {
		t.Errorf("lockdown = %v, %v", on, err)
	}
	s, err := DecodeSim([]byte(`{"kind":"card","card":"012:00345"}`))
	if err != nil || s.Kind != SimCard || s.Card != "012:00345" || s.Format != DefaultWiegandFormat {
		t.Errorf("sim = %+v, %v", s, err)
	}
	s, err = DecodeSim([]byte(`{"kind":"qr","image":"/9j/4AAQ"}`))
	if err != nil || string(s.Image) != "\xff\xd8\xff\xe0\x00\x10" {
		t.Errorf("sim image = %q, %v", s.Image, err)
	}
}

var queryCases = []struct {
	name string
	q    string
	want KeyFilter
	ok   bool
}{
	{"empty", "", KeyFilter{Limit: DefaultKeyLimit}, true},
	{"limit", "limit=5", KeyFilter{Limit: 5}, true},
	{"zero limit", "limit=0", KeyFilter{Limit: DefaultKeyLimit}, true},
	{"max limit", "limit=1000", KeyFilter{Limit: 1000}, true},
	{"over limit", "limit=1001", KeyFilter{}, false},
	{"negative", "limit=-1", KeyFilter{}, false},
	{"not a number", "limit=ten", KeyFilter{}, false},
	{"huge", "limit=99999999999999999999", KeyFilter{}, false},
	{"deleted", "deleted=1", KeyFilter{Limit: DefaultKeyLimit, Deleted: true}, true},
	{"deleted true", "deleted=true", KeyFilter{Limit: DefaultKeyLimit, Deleted: true}, true},
	{"deleted bad", "deleted=yes", KeyFilter{}, false},
	{"after", "after=v-10&limit=2", KeyFilter{After: "v-10", Limit: 2}, true},
	{"after bad", "after=v%2010", KeyFilter{}, false},
}

func TestDecodeKeyFilter(t *testing.T) {
	for _, tt := range queryCases {
		t.Run(tt.name, func(t *testing.T) {
			q, _ := url.ParseQuery(tt.q)
			got, err := DecodeKeyFilter(q)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if tt.ok && got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if !tt.ok && !errors.Is(err, ErrBadRequest) {
				t.Errorf("err = %v, want ErrBadRequest", err)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	kinds := []string{"explain", "relay", "loglevel", "lockdown", "sim"}
	for _, tt := range decodeCases {
		for i, k := range kinds {
			if k == tt.kind {
				f.Add(uint8(i), []byte(tt.body))
			}
		}
	}
	f.Fuzz(func(t *testing.T, which uint8, body []byte) {
		kind := kinds[int(which)%len(kinds)]
		v, err := decodeAny(kind, body)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("%s: error %v is not ErrBadRequest", kind, err)
			}
			if len(err.Error()) > 300 {
				t.Fatalf("%s: error of %d bytes", kind, len(err.Error()))
			}
			return
		}
		// What decodes must satisfy the checks the handlers rely on.
		switch r := v.(type) {
		case ExplainRequest:
			if r.Kind == access.KindUnknown || r.Value == "" || len(r.Value) > 1024 {
				t.Fatalf("explain accepted %+v", r)
			}
		case RelayRequest:
			if r.Action < RelayPulse || r.Action > RelayUnlock || r.For < 0 || time.Duration(r.For) > MaxPulse {
				t.Fatalf("relay accepted %+v", r)
			}
		case SimRequest:
			if r.Kind < SimCard || r.Kind > SimDoor || len(r.Image) > maxSimImage || len(r.QR) > maxSimPayload {
				t.Fatalf("sim accepted %+v", r)
			}
		}
	})
}

func FuzzQuery(f *testing.F) {
	for _, tt := range queryCases {
		f.Add(tt.q)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		kf, err := DecodeKeyFilter(q)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v is not ErrBadRequest", err)
			}
			return
		}
		if kf.Limit < 1 || kf.Limit > MaxKeyLimit || len(kf.After) > 128 {
			t.Fatalf("accepted %+v", kf)
		}
		if n, err := ParseCount(q, "n", 7, 10); err == nil && (n < 0 || n > 10) {
			t.Fatalf("count %d out of range", n)
		}
	})
}
