package mqttsync

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/sync/cloudsim"
	"github.com/intercomd/intercomd/sync/wire"
)

// TestBadInput feeds bad messages through the real broker: each is
// rejected with a clear error, counted and reported as an event, and the
// cache is left exactly as it was.
func TestBadInput(t *testing.T) {
	r := newRig(t, mqtttestOptions(), nil)
	v, err := r.cloud.Create(spec(cloudsim.Secrets{PIN: "8642"}))
	if err != nil {
		t.Fatal(err)
	}
	r.converge(15 * time.Second)
	rev, _ := r.db.Revision()
	now := time.Now().UTC().Format(time.RFC3339Nano)
	ghost := `{"id":"ghost","version":1,"start":"2026-01-01T00:00:00Z","end":"2036-01-01T00:00:00Z","intercoms":["door-1"],"creds":[{"kind":"pin","hash":"` + strings.Repeat("ab", 32) + `"}]}`
	cases := []struct {
		name, topic, payload string
		counter              string // Stats.Rejected key
		event                string // substring of the input.rejected event ("" for none)
	}{
		{"malformed JSON", "keys/delta", `{"v":1,"rev":`, "keys/delta:malformed", "malformed message"},
		{"wrong type", "keys/delta", `{"v":1,"rev":"7","prev_rev":6,"sent_at":"` + now + `"}`, "keys/delta:malformed", `field "rev"`},
		{"unknown version", "keys/delta", `{"v":7,"rev":99,"prev_rev":98}`, "keys/delta:version", "v=7"},
		{"oversized", "keys/delta", `{"v":1,"pad":"` + strings.Repeat("x", 200*1024) + `"}`, "keys/delta:too_large", "too large"},
		{"revision backwards", "keys/delta", fmt.Sprintf(`{"v":1,"rev":%d,"prev_rev":%d,"sent_at":"%s","upserts":[%s]}`, rev+1, rev+2, now, ghost), "keys/delta:invalid", "revision goes backwards"},
		{"snapshot revision backwards", "keys/snapshot", fmt.Sprintf(`{"v":1,"snapshot_id":"old","rev":0,"seq":0,"total":1,"sent_at":"%s","visits":[%s]}`, now, ghost), "keys/snapshot:invalid", "revision goes backwards"},
		{"bad hash", "keys/delta", fmt.Sprintf(`{"v":1,"rev":%d,"prev_rev":%d,"sent_at":"%s","upserts":[%s]}`, rev+1, rev, now, strings.Replace(ghost, "abab", "zz", 1)), "keys/delta:invalid", "hash"},
		{"bad command", "cmd", `{"v":1,"type":"web_unlock","request_id":"bad-cmd-01","issued_at":"` + now + `","expires_at":"` + now + `"}`, "cmd:invalid", "issued_at must be before expires_at"},
		{"command wrong version", "cmd", `{"v":2,"type":"open_sesame"}`, "cmd:version", "v=2"},
		{"stale plate read", "lpr", `{"v":1,"camera":"lpr0","plate":"AB123","confidence":0.9,"at":"2020-01-01T00:00:00Z"}`, "lpr:stale", "old"},
		{"low confidence plate", "lpr", `{"v":1,"camera":"lpr0","plate":"AB123","confidence":0.1,"at":"` + now + `"}`, "lpr:low_confidence", ""},
		{"face not json", "face", "\xff\xfe", "face:malformed", "malformed"},
		{"face no subject", "face", `{"v":1,"camera":"face0","subject":"","score":0.9,"at":"` + now + `"}`, "face:invalid", "subject"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := r.client.Stats().Rejected[c.counter]
			if err := r.cloud.PublishRaw("intercom/"+device+"/"+c.topic, []byte(c.payload), false); err != nil {
				t.Fatal(err)
			}
			waitFor(t, 15*time.Second, "counter "+c.counter, func() bool { return r.client.Stats().Rejected[c.counter] > before })
			if c.event != "" {
				waitFor(t, 15*time.Second, "an input.rejected event with "+c.event, func() bool {
					return r.events.find(access.EventBadInput, c.topic+": ") && r.events.find(access.EventBadInput, c.event)
				})
			}
			if got, _ := r.db.Revision(); got != rev {
				t.Errorf("revision moved from %d to %d", rev, got)
			}
			if _, _, err := r.db.Visit("ghost"); err == nil {
				t.Error("a rejected message created a visit")
			}
		})
	}
	if d := diff(r.db, r.cloud); d != "" {
		t.Fatalf("cache changed: %s", d)
	}
	if s := r.client.Stats(); s.CommandsRefused != 1 {
		t.Errorf("CommandsRefused = %d, want 1 (the bad command with a request id is answered)", s.CommandsRefused)
	}

	// A stale delta (revision not above the cache's) is dropped and counted.
	stale := r.client.Stats().Stale
	if err := r.cloud.PublishRaw(wire.TopicDelta.Name(device), []byte(fmt.Sprintf(`{"v":1,"rev":%d,"prev_rev":%d,"sent_at":"%s","upserts":[%s]}`, rev, rev-1, now, ghost)), false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the stale delta to be counted", func() bool { return r.client.Stats().Stale > stale })

	// A snapshot with a missing chunk: chunk 0 of 2 is staged, chunk 1 never
	// comes. It times out, is discarded (the ghost never appears) and a new
	// snapshot is asked for and applied.
	timeouts := r.client.Stats().SnapshotTimeouts
	chunk := fmt.Sprintf(`{"v":1,"snapshot_id":"half","rev":%d,"seq":0,"total":2,"sent_at":"%s","visits":[%s]}`, rev+10, now, ghost)
	if err := r.cloud.PublishRaw(wire.TopicSnapshot.Name(device), []byte(chunk), false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the snapshot timeout", func() bool { return r.client.Stats().SnapshotTimeouts > timeouts })
	waitFor(t, 15*time.Second, "the sync.error event", func() bool { return r.events.find(access.EventSync, "snapshot half stalled with 1 of 2 chunks") })
	if _, _, err := r.db.Visit("ghost"); err == nil {
		t.Fatal("a half snapshot was applied")
	}
	r.converge(15 * time.Second)
	pin := access.Credential{Kind: access.KindPIN, Value: "8642", Reader: "keypad0", At: time.Now()}
	if d := r.door.eng.Decide(pin, access.Clock{Now: time.Now(), Trusted: true}); !d.Grant || d.VisitID != v.ID {
		t.Errorf("after all that, the visit's PIN: %v %s", d.Reason, d.VisitID)
	}
}
