package mqttsync

import (
	"testing"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/sync/cloudsim"
	"github.com/intercomd/intercomd/sync/wire"
)

func TestSyncConverges(t *testing.T) {
	r := newRig(t, mqtttestOptions(), nil)
	var ids []string
	for i := range 5 {
		v, err := r.cloud.Create(spec(cloudsim.Secrets{PIN: "12345" + string(rune('0'+i))}))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	r.converge(15 * time.Second)
	if err := r.cloud.Delete(ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := r.cloud.Update(ids[1], func(v *cloudsim.Visit) { v.End = v.End.Add(time.Hour); v.Daily = "08:00-18:00" }); err != nil {
		t.Fatal(err)
	}
	r.converge(15 * time.Second)
	v, _, err := r.db.Visit(ids[0])
	if err != nil || !v.Deleted {
		t.Errorf("deleted visit: %+v, %v; want a tombstone", v, err)
	}

	// A daemon restart while the cloud changes: the new client asks for a
	// snapshot and ends up with the cloud's set, deletions included.
	r.stop()
	if err := r.cloud.Delete(ids[2]); err != nil {
		t.Fatal(err)
	}
	if _, err := r.cloud.Create(spec(cloudsim.Secrets{PIN: "99999"})); err != nil {
		t.Fatal(err)
	}
	r.openStore()
	r.start()
	// The deltas queued for the persistent session may converge the cache
	// before the snapshot the client asked for arrives; it must still
	// arrive and be applied, and leave the cache equal to the cloud's.
	waitFor(t, 15*time.Second, "a snapshot after a restart", func() bool { return r.client.Stats().SnapshotsApplied > 0 })
	r.converge(15 * time.Second)
}

func TestRevokeDenies(t *testing.T) {
	r := newRig(t, mqtttestOptions(), nil)
	v, err := r.cloud.Create(spec(cloudsim.Secrets{PIN: "4711"}))
	if err != nil {
		t.Fatal(err)
	}
	r.converge(15 * time.Second)
	pin := access.Credential{Kind: access.KindPIN, Value: "4711", Reader: "keypad0", At: time.Now()}
	if d := r.door.Decide(t.Context(), pin); !d.Grant {
		t.Fatalf("before delete: %v, want a grant", d.Reason)
	}
	if err := r.cloud.Delete(v.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the deleted visit's PIN to be refused", func() bool {
		d := r.door.eng.Decide(pin, access.Clock{Now: time.Now(), Trusted: true})
		return !d.Grant && d.Reason == access.ReasonVisitDeleted
	})
	// The decisions' events reach the cloud through the outbox.
	waitFor(t, 15*time.Second, "the grant event at the cloud", func() bool { return r.events.find(access.EventAccessGranted, "") })
}

func TestCommands(t *testing.T) {
	r := newRig(t, mqtttestOptions(), nil)
	tok := "webtoken-0123456789abcdef"
	v, err := r.cloud.Create(spec(cloudsim.Secrets{WebToken: tok}))
	if err != nil {
		t.Fatal(err)
	}
	r.converge(15 * time.Second)
	waitFor(t, 15*time.Second, "the connection", func() bool { return r.client.Stats().Connected })
	ctx := t.Context()
	on := true
	cases := []struct {
		name       string
		cmd        wire.Command
		status     wire.ResultStatus
		reason     string
		grantDelta int
	}{
		{"web unlock", wire.Command{Type: wire.CmdWebUnlock, RequestID: "web-00000001", VisitID: v.ID, Token: tok}, wire.StatusOK, string(access.ReasonGranted), 1},
		{"replayed", wire.Command{Type: wire.CmdWebUnlock, RequestID: "web-00000001", VisitID: v.ID, Token: tok}, wire.StatusRefused, wire.RefusedReplayed, 0},
		{"wrong token", wire.Command{Type: wire.CmdWebUnlock, VisitID: v.ID, Token: "webtoken-wrongwrongwrong"}, wire.StatusDenied, string(access.ReasonUnknownCredential), 0},
		{"wrong visit", wire.Command{Type: wire.CmdWebUnlock, VisitID: "v-other", Token: tok}, wire.StatusDenied, string(access.ReasonVisitMismatch), 0},
		{"expired", wire.Command{Type: wire.CmdWebUnlock, VisitID: v.ID, Token: tok, IssuedAt: time.Now().Add(-2 * time.Minute), ExpiresAt: time.Now().Add(-time.Minute)}, wire.StatusRefused, wire.RefusedExpired, 0},
		{"remote unlock", wire.Command{Type: wire.CmdRemoteUnlock, Operator: "reception"}, wire.StatusOK, "", 1},
		{"lockdown", wire.Command{Type: wire.CmdLockdown, On: &on}, wire.StatusOK, "", 0},
		{"web unlock in lockdown", wire.Command{Type: wire.CmdWebUnlock, VisitID: v.ID, Token: tok}, wire.StatusDenied, string(access.ReasonLockdown), 0},
		{"resync", wire.Command{Type: wire.CmdResync}, wire.StatusOK, "", 0},
	}
	for _, c := range cases {
		before := r.door.grants()
		res, err := r.cloud.Command(ctx, device, c.cmd)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if res.Status != c.status || res.Reason != c.reason {
			t.Errorf("%s: result %s/%s (%s), want %s/%s", c.name, res.Status, res.Reason, res.Detail, c.status, c.reason)
		}
		if got := r.door.grants() - before; got != c.grantDelta {
			t.Errorf("%s: door opened %d times, want %d", c.name, got, c.grantDelta)
		}
	}
}

// TestStaleWebUnlockDoesNotOpen queues a web unlock in the broker while the
// device is offline; it arrives after its expiry and must not open.
func TestStaleWebUnlockDoesNotOpen(t *testing.T) {
	r := newRig(t, mqtttestOptions(), nil)
	tok := "webtoken-staleness-check"
	v, err := r.cloud.Create(spec(cloudsim.Secrets{WebToken: tok}))
	if err != nil {
		t.Fatal(err)
	}
	r.converge(15 * time.Second)
	r.stop() // offline; the broker keeps the session and queues for it
	now := time.Now()
	if err := r.cloud.Publish(wire.TopicCommand.Name(device), &wire.Command{Type: wire.CmdWebUnlock, RequestID: "stale-0000001",
		IssuedAt: now, ExpiresAt: now.Add(30 * time.Second), VisitID: v.ID, Token: tok}, false); err != nil {
		t.Fatal(err)
	}
	// The device comes back a minute later (its clock says so).
	r.opt.Now = func() time.Time { return time.Now().Add(time.Minute) }
	r.openStore()
	r.start()
	waitFor(t, 15*time.Second, "the refusal", func() bool { return r.client.Stats().CommandsRefused == 1 })
	waitFor(t, 15*time.Second, "the command.result event", func() bool { return r.events.find(access.EventCommand, "stale-0000001: refused (expired)") })
	if g := r.door.grants(); g != 0 {
		t.Fatalf("a stale web unlock opened the door %d times", g)
	}
}

// TestReplayAcrossRestart replays a command that was carried out before a
// daemon restart: the persisted horizon refuses it.
func TestReplayAcrossRestart(t *testing.T) {
	r := newRig(t, mqtttestOptions(), nil)
	waitFor(t, 15*time.Second, "the connection", func() bool { return r.client.Stats().Connected })
	cmd := wire.Command{Type: wire.CmdRemoteUnlock, RequestID: "replay-000001", IssuedAt: time.Now().UTC(), ExpiresAt: time.Now().Add(time.Minute).UTC()}
	if res, err := r.cloud.Command(t.Context(), device, cmd); err != nil || res.Status != wire.StatusOK {
		t.Fatalf("first: %+v %v", res, err)
	}
	r.restart()
	waitFor(t, 15*time.Second, "the connection", func() bool { return r.client.Stats().Connected })
	res, err := r.cloud.Command(t.Context(), device, cmd)
	if err != nil || res.Status != wire.StatusRefused || res.Reason != wire.RefusedReplayed {
		t.Fatalf("replay after restart: %+v %v; want refused/replayed", res, err)
	}
}

// TestExpiredCommandWithWrongClock: a device that boots with its clock at
// 1971 still refuses an expired command, by the newest server time its
// store remembers from before.
func TestExpiredCommandWithWrongClock(t *testing.T) {
	r := newRig(t, mqtttestOptions(), nil)
	tok := "webtoken-wrong-clock-check"
	v, err := r.cloud.Create(spec(cloudsim.Secrets{WebToken: tok}))
	if err != nil {
		t.Fatal(err)
	}
	r.converge(15 * time.Second)
	r.stop()
	r.opt.Now = func() time.Time { return time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC) }
	r.openStore()
	if _, err := r.db.ObserveServerTime(time.Now()); err != nil { // as the last run left it
		t.Fatal(err)
	}
	r.start()
	waitFor(t, 15*time.Second, "the connection", func() bool { return r.client.Stats().Connected })
	now := time.Now().UTC()
	res, err := r.cloud.Command(t.Context(), device, wire.Command{Type: wire.CmdWebUnlock, VisitID: v.ID, Token: tok,
		IssuedAt: now.Add(-2 * time.Minute), ExpiresAt: now.Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != wire.StatusRefused || res.Reason != wire.RefusedExpired {
		t.Fatalf("result %+v, want refused/expired", res)
	}
	if g := r.door.grants(); g != 0 {
		t.Fatalf("door opened %d times", g)
	}
}
