package wire

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
)

const (
	hashA = "9f2c1a7be0d54c3f8a61b2e4d7c90f1e3a5b6c7d8e9f00112233445566778899"
	hashB = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
)

const goodVisit = `{"id":"v1","version":3,"start":"2026-12-03T09:00:00Z","end":"2026-12-05T17:00:00Z","days":["mon","fri"],"daily":"09:00-17:00","intercoms":["front"],"creds":[{"kind":"pin","hash":"` + hashA + `"}]}`

// newFor returns an empty message for a case's type name.
func newFor(t testing.TB, typ string) Message {
	t.Helper()
	m := newMessage(typ)
	if m == nil {
		t.Fatalf("unknown message type %q", typ)
	}
	return m
}

func newMessage(typ string) Message {
	switch typ {
	case "delta":
		return &Delta{}
	case "head":
		return &Head{}
	case "snapshot":
		return &SnapshotChunk{}
	case "snapshot_request":
		return &SnapshotRequest{}
	case "command":
		return &Command{}
	case "result":
		return &Result{}
	case "events":
		return &EventBatch{}
	case "status":
		return &Status{}
	case "plate":
		return &PlateRead{}
	case "face":
		return &FaceRead{}
	}
	return nil
}

var decodeCases = []struct {
	name, typ, in string
	want          error // nil: decodes
}{
	{"delta ok", "delta", `{"v":1,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z","upserts":[` + goodVisit + `],"deletes":[{"id":"v2","version":7}]}`, nil},
	{"delta empty ok", "delta", `{"v":1,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z"}`, nil},
	{"delta not json", "delta", `{"v":1,"rev":5,`, ErrMalformed},
	{"delta garbage", "delta", "\x00\xff", ErrMalformed},
	{"delta wrong type rev", "delta", `{"v":1,"rev":"5","prev_rev":4,"sent_at":"2026-12-03T10:00:00Z"}`, ErrMalformed},
	{"delta wrong type upserts", "delta", `{"v":1,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z","upserts":{}}`, ErrMalformed},
	{"delta negative rev", "delta", `{"v":1,"rev":-5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z"}`, ErrMalformed},
	{"delta version 2", "delta", `{"v":2,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z"}`, ErrVersion},
	{"delta version 2 other schema", "delta", `{"v":2,"rev":{"n":5}}`, ErrVersion},
	{"delta no version", "delta", `{"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z"}`, ErrVersion},
	{"delta rev backwards", "delta", `{"v":1,"rev":4,"prev_rev":5,"sent_at":"2026-12-03T10:00:00Z"}`, ErrInvalid},
	{"delta rev zero", "delta", `{"v":1,"rev":0,"prev_rev":0,"sent_at":"2026-12-03T10:00:00Z"}`, ErrInvalid},
	{"delta no sent_at", "delta", `{"v":1,"rev":5,"prev_rev":4}`, ErrInvalid},
	{"delta bad hash", "delta", `{"v":1,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z","upserts":[` + strings.Replace(goodVisit, hashA, "xyz", 1) + `]}`, ErrInvalid},
	{"delta upper hash", "delta", `{"v":1,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z","upserts":[` + strings.Replace(goodVisit, hashA, strings.ToUpper(hashA), 1) + `]}`, ErrInvalid},
	{"delta bad kind", "delta", `{"v":1,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z","upserts":[` + strings.Replace(goodVisit, `"pin"`, `"retina"`, 1) + `]}`, ErrMalformed},
	{"delta end before start", "delta", `{"v":1,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z","upserts":[` + strings.Replace(goodVisit, "2026-12-05", "2026-12-01", 1) + `]}`, ErrInvalid},
	{"delta bad day", "delta", `{"v":1,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z","upserts":[` + strings.Replace(goodVisit, `"fri"`, `"fry"`, 1) + `]}`, ErrInvalid},
	{"delta bad daily", "delta", `{"v":1,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z","upserts":[` + strings.Replace(goodVisit, "09:00-17:00", "09:00-25:00", 1) + `]}`, ErrInvalid},
	{"delta version zero visit", "delta", `{"v":1,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z","upserts":[` + strings.Replace(goodVisit, `"version":3`, `"version":0`, 1) + `]}`, ErrInvalid},
	{"delta no intercoms", "delta", `{"v":1,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z","upserts":[` + strings.Replace(goodVisit, `["front"]`, `[]`, 1) + `]}`, ErrInvalid},
	{"delta duplicate id", "delta", `{"v":1,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z","upserts":[` + goodVisit + `],"deletes":[{"id":"v1","version":7}]}`, ErrInvalid},
	{"delta tombstone version zero", "delta", `{"v":1,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z","deletes":[{"id":"v2","version":0}]}`, ErrInvalid},
	{"delta oversized", "delta", `{"v":1,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z","pad":"` + strings.Repeat("x", MaxPayload) + `"}`, ErrTooLarge},
	{"head ok", "head", `{"v":1,"rev":12,"sent_at":"2026-12-03T10:00:00Z"}`, nil},
	{"head no time", "head", `{"v":1,"rev":12}`, ErrInvalid},
	{"snapshot ok", "snapshot", `{"v":1,"snapshot_id":"s1","request_id":"req00001","rev":9,"seq":0,"total":2,"sent_at":"2026-12-03T10:00:00Z","visits":[` + goodVisit + `]}`, nil},
	{"snapshot seq out of range", "snapshot", `{"v":1,"snapshot_id":"s1","rev":9,"seq":2,"total":2,"sent_at":"2026-12-03T10:00:00Z","visits":[]}`, ErrInvalid},
	{"snapshot no id", "snapshot", `{"v":1,"rev":9,"seq":0,"total":1,"sent_at":"2026-12-03T10:00:00Z","visits":[]}`, ErrInvalid},
	{"snapshot total zero", "snapshot", `{"v":1,"snapshot_id":"s1","rev":9,"seq":0,"total":0,"sent_at":"2026-12-03T10:00:00Z","visits":[]}`, ErrInvalid},
	{"snapshot request ok", "snapshot_request", `{"v":1,"request_id":"req00001","reason":"gap","have_rev":3,"at":"2026-12-03T10:00:00Z"}`, nil},
	{"snapshot request bad reason", "snapshot_request", `{"v":1,"request_id":"req00001","reason":"bored","have_rev":3,"at":"2026-12-03T10:00:00Z"}`, ErrInvalid},
	{"web unlock ok", "command", `{"v":1,"type":"web_unlock","request_id":"req00001","issued_at":"2026-12-03T10:00:00Z","expires_at":"2026-12-03T10:01:00Z","visit_id":"v1","token":"Zm9vYmFyYmF6cXV4MTIzNDU2"}`, nil},
	{"web unlock no token", "command", `{"v":1,"type":"web_unlock","request_id":"req00001","issued_at":"2026-12-03T10:00:00Z","expires_at":"2026-12-03T10:01:00Z","visit_id":"v1"}`, ErrInvalid},
	{"web unlock short token", "command", `{"v":1,"type":"web_unlock","request_id":"req00001","issued_at":"2026-12-03T10:00:00Z","expires_at":"2026-12-03T10:01:00Z","visit_id":"v1","token":"abc"}`, ErrInvalid},
	{"command lives too long", "command", `{"v":1,"type":"resync","request_id":"req00001","issued_at":"2026-12-03T10:00:00Z","expires_at":"2026-12-03T11:00:00Z"}`, ErrInvalid},
	{"command expiry before issue", "command", `{"v":1,"type":"resync","request_id":"req00001","issued_at":"2026-12-03T10:00:00Z","expires_at":"2026-12-03T09:00:00Z"}`, ErrInvalid},
	{"command short request id", "command", `{"v":1,"type":"resync","request_id":"r1","issued_at":"2026-12-03T10:00:00Z","expires_at":"2026-12-03T10:01:00Z"}`, ErrInvalid},
	{"command unknown type", "command", `{"v":1,"type":"selfdestruct","request_id":"req00001","issued_at":"2026-12-03T10:00:00Z","expires_at":"2026-12-03T10:01:00Z"}`, ErrInvalid},
	{"lockdown without on", "command", `{"v":1,"type":"lockdown","request_id":"req00001","issued_at":"2026-12-03T10:00:00Z","expires_at":"2026-12-03T10:01:00Z"}`, ErrInvalid},
	{"lockdown wrong type", "command", `{"v":1,"type":"lockdown","on":"yes","request_id":"req00001","issued_at":"2026-12-03T10:00:00Z","expires_at":"2026-12-03T10:01:00Z"}`, ErrMalformed},
	{"config ok", "command", `{"v":1,"type":"config","request_id":"req00001","issued_at":"2026-12-03T10:00:00Z","expires_at":"2026-12-03T10:01:00Z","config":{"unlock_seconds":5,"door_mode":"third_party","time_zone":"Europe/Berlin"}}`, nil},
	{"config unlock 0", "command", `{"v":1,"type":"config","request_id":"req00001","issued_at":"2026-12-03T10:00:00Z","expires_at":"2026-12-03T10:01:00Z","config":{"unlock_seconds":0}}`, ErrInvalid},
	{"config empty", "command", `{"v":1,"type":"config","request_id":"req00001","issued_at":"2026-12-03T10:00:00Z","expires_at":"2026-12-03T10:01:00Z","config":{}}`, ErrInvalid},
	{"config bad tz", "command", `{"v":1,"type":"config","request_id":"req00001","issued_at":"2026-12-03T10:00:00Z","expires_at":"2026-12-03T10:01:00Z","config":{"time_zone":"../../etc/passwd"}}`, ErrInvalid},
	{"config bad door mode", "command", `{"v":1,"type":"config","request_id":"req00001","issued_at":"2026-12-03T10:00:00Z","expires_at":"2026-12-03T10:01:00Z","config":{"door_mode":"open"}}`, ErrInvalid},
	{"result ok", "result", `{"v":1,"request_id":"req00001","type":"web_unlock","status":"denied","reason":"visit_ended","visit_id":"v1","at":"2026-12-03T10:00:01Z"}`, nil},
	{"result bad status", "result", `{"v":1,"request_id":"req00001","status":"maybe","at":"2026-12-03T10:00:01Z"}`, ErrInvalid},
	{"events ok", "events", `{"v":1,"device":"door-1","events":[{"id":"0123456789abcdef0123456789abcdef","type":"access.granted","at":"2026-12-03T10:00:00Z","reason":"granted","visit_id":"v1","kind":"pin","reader":"keypad0","took_us":412}]}`, nil},
	{"events empty", "events", `{"v":1,"device":"door-1","events":[]}`, ErrInvalid},
	{"events bad id", "events", `{"v":1,"device":"door-1","events":[{"id":"x","type":"access.granted","at":"2026-12-03T10:00:00Z"}]}`, ErrInvalid},
	{"events bad device", "events", `{"v":1,"device":"door/1","events":[{"id":"0123456789abcdef0123456789abcdef","type":"access.granted","at":"2026-12-03T10:00:00Z"}]}`, ErrInvalid},
	{"status ok", "status", `{"v":1,"device":"door-1","state":"online","at":"2026-12-03T10:00:00Z","revision":4,"cache_size":10,"outbox_depth":0,"clock_trusted":true}`, nil},
	{"status bad state", "status", `{"v":1,"device":"door-1","state":"sleepy"}`, ErrInvalid},
	{"plate ok", "plate", `{"v":1,"camera":"lpr0","plate":"ab-123 c","confidence":0.9,"at":"2026-12-03T10:00:00Z"}`, nil},
	{"plate bad chars", "plate", `{"v":1,"camera":"lpr0","plate":"AB_123","confidence":0.9,"at":"2026-12-03T10:00:00Z"}`, ErrInvalid},
	{"plate confidence", "plate", `{"v":1,"camera":"lpr0","plate":"AB123","confidence":1.5,"at":"2026-12-03T10:00:00Z"}`, ErrInvalid},
	{"face ok", "face", `{"v":1,"camera":"face0","subject":"subj-42","score":0.97,"at":"2026-12-03T10:00:00Z"}`, nil},
	{"face no subject", "face", `{"v":1,"camera":"face0","subject":"","score":0.97,"at":"2026-12-03T10:00:00Z"}`, ErrInvalid},
	{"face null", "face", `null`, ErrVersion},
	{"face array", "face", `[]`, ErrMalformed},
}

func TestDecode(t *testing.T) {
	for _, c := range decodeCases {
		t.Run(c.name, func(t *testing.T) {
			m := newFor(t, c.typ)
			err := Decode([]byte(c.in), m)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Decode: %v, want success", err)
				}
				roundTrip(t, m, c.typ)
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Decode error = %v, want %v", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "wire: ") {
				t.Errorf("error %q is not prefixed with the package", err)
			}
			if strings.Contains(err.Error(), "Zm9vYmFy") {
				t.Errorf("error %q echoes the token", err)
			}
		})
	}
}

// roundTrip encodes m, decodes the result and compares.
func roundTrip(t testing.TB, m Message, typ string) {
	t.Helper()
	b, err := Encode(m)
	if err != nil {
		t.Fatalf("Encode after Decode: %v", err)
	}
	m2 := newFor(t, typ)
	if err := Decode(b, m2); err != nil {
		t.Fatalf("Decode(Encode(m)): %v\n%s", err, b)
	}
	b2, err := Encode(m2)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != string(b2) {
		t.Fatalf("round trip changed the message:\n%s\n%s", b, b2)
	}
}

func TestDeltaRecords(t *testing.T) {
	var d Delta
	in := `{"v":1,"rev":5,"prev_rev":4,"sent_at":"2026-12-03T10:00:00Z","upserts":[` + goodVisit + `]}`
	if err := Decode([]byte(in), &d); err != nil {
		t.Fatal(err)
	}
	r := d.Records()
	if len(r) != 1 {
		t.Fatalf("got %d records, want 1", len(r))
	}
	want := access.Visit{
		ID: "v1", Version: 3,
		Start: time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 5, 17, 0, 0, 0, time.UTC),
		Days: 1<<time.Monday | 1<<time.Friday, DailyFrom: 9 * 60, DailyTo: 17 * 60, Intercoms: []string{"front"},
	}
	if !reflect.DeepEqual(r[0].Visit, want) {
		t.Errorf("visit = %+v, want %+v", r[0].Visit, want)
	}
	if r[0].Creds[0].String() != hashA || r[0].Kinds[0] != access.KindPIN {
		t.Errorf("creds = %v %v", r[0].Creds, r[0].Kinds)
	}
	back := FromRecord(r[0])
	if !reflect.DeepEqual(back, d.Upserts[0]) {
		t.Errorf("FromRecord = %+v, want %+v", back, d.Upserts[0])
	}
}

func TestDaily(t *testing.T) {
	for _, c := range []struct {
		in       string
		from, to int
		ok       bool
	}{
		{"", 0, 0, true}, {"09:00-17:00", 540, 1020, true}, {"22:00-06:30", 1320, 390, true},
		{"00:00-24:00", 0, 1440, true}, {"24:00-01:00", 0, 0, false}, {"09:00-09:00", 0, 0, false},
		{"9:00-17:00", 0, 0, false}, {"09:60-17:00", 0, 0, false}, {"09:00", 0, 0, false},
	} {
		from, to, err := ParseDaily(c.in)
		if (err == nil) != c.ok || from != c.from || to != c.to {
			t.Errorf("ParseDaily(%q) = %d, %d, %v; want %d, %d, ok=%v", c.in, from, to, err, c.from, c.to, c.ok)
		}
		if c.ok && FormatDaily(from, to) != c.in {
			t.Errorf("FormatDaily(%d, %d) = %q, want %q", from, to, FormatDaily(from, to), c.in)
		}
	}
}

func TestTopics(t *testing.T) {
	for tp := TopicDelta; tp <= TopicFace; tp++ {
		name := tp.Name("door-1")
		if n := strings.Count(name, "/") + 1; n > MaxTopicLevels {
			t.Errorf("%s has %d levels", name, n)
		}
		dev, got, err := ParseTopic(name)
		if err != nil || dev != "door-1" || got != tp {
			t.Errorf("ParseTopic(%q) = %q, %v, %v", name, dev, got, err)
		}
	}
	for _, bad := range []string{"", "intercom", "intercom/door-1", "intercom/door+1/cmd", "intercom/door-1/nope", "other/door-1/cmd", "intercom//cmd"} {
		if _, _, err := ParseTopic(bad); err == nil {
			t.Errorf("ParseTopic(%q) succeeded", bad)
		}
	}
}

func TestEventBatch(t *testing.T) {
	e1, _ := json.Marshal(access.Event{ID: access.NewEventID(), Type: access.EventAccessDenied, At: time.Unix(1, 0).UTC(), Reason: access.ReasonUnknownCredential})
	e2, _ := json.Marshal(access.Event{ID: access.NewEventID(), Type: access.EventDoorOpened, At: time.Unix(2, 0).UTC()})
	for _, e := range [][]byte{e1, e2} {
		if err := CheckEvent(e); err != nil {
			t.Fatalf("CheckEvent(%s): %v", e, err)
		}
	}
	b := AppendBatch(nil, "door-1", [][]byte{e1, e2})
	var got EventBatch
	if err := Decode(b, &got); err != nil {
		t.Fatalf("Decode(batch): %v\n%s", err, b)
	}
	if len(got.Events) != 2 || got.Events[1].Type != access.EventDoorOpened {
		t.Errorf("batch = %+v", got)
	}
	for _, c := range []struct {
		in   string
		want error
	}{
		{`{"id":"0123456789abcdef0123456789abcdef","type":"x"}`, ErrInvalid},
		{`["x"]`, ErrMalformed},
		{`{"id":`, ErrMalformed},
		{`{"id":"0123456789abcdef0123456789abcdef","type":"x","at":"2026-12-03T10:00:00Z","detail":"` + strings.Repeat("y", MaxPayload) + `"}`, ErrTooLarge},
	} {
		if err := CheckEvent([]byte(c.in)); !errors.Is(err, c.want) {
			t.Errorf("CheckEvent(%.40s) = %v, want %v", c.in, err, c.want)
		}
	}
}

func TestPeekRequestID(t *testing.T) {
	if got := PeekRequestID([]byte(`{"v":9,"request_id":"req00001","type":5}`)); got != "req00001" {
		t.Errorf("PeekRequestID = %q", got)
	}
	if got := PeekRequestID([]byte(`{"request_id":"a b"}`)); got != "" {
		t.Errorf("PeekRequestID(bad) = %q", got)
	}
}

func TestCommandLogValueHidesToken(t *testing.T) {
	c := Command{Type: CmdWebUnlock, RequestID: "req00001", VisitID: "v1", Token: "supersecrettoken123"}
	if s := c.LogValue().String(); strings.Contains(s, "supersecret") {
		t.Errorf("LogValue = %s", s)
	}
}

func TestClass(t *testing.T) {
	for _, c := range decodeCases {
		if c.want == nil {
			continue
		}
		err := Decode([]byte(c.in), newFor(t, c.typ))
		if Class(err) == "other" {
			t.Errorf("%s: Class(%v) = other", c.name, err)
		}
	}
}
