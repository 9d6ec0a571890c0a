package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	_ "image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	gzqr "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/internal/mqtttest"
	"github.com/intercomd/intercomd/sync/wire"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

const siteKeyHex = "696e746572636f6d642d746573742d736974652d6b65792d33322d6279746573"

func setup(t *testing.T) (dir string, global []string) {
	dir = t.TempDir()
	key := filepath.Join(dir, "site.key")
	if err := os.WriteFile(key, []byte(siteKeyHex+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, []string{"--state", filepath.Join(dir, "state.json"), "--site-key-file", key}
}

func visitctl(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("visitctl %s: %v\n%s", strings.Join(args, " "), err, errb.String())
	}
	return out.String()
}

func TestCreateJSONAndQR(t *testing.T) {
	dir, g := setup(t)
	out := visitctl(t, append(g, "create", "--name", "Ada", "--email", "ada@example.com", "--intercom", "door-1",
		"--pin", "--qr", "--web", "--card", "--plate", "b-xy 123", "--days", "mon,fri", "--daily", "09:00-17:00", "--end", "+48h", "--json")...)
	var c created
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("create --json: %v\n%s", err, out)
	}
	if len(c.PIN) != 6 || len(c.QRToken) != 32 || c.QRPayload != "VK1:"+c.QRToken || len(c.WebToken) < 16 || !strings.Contains(c.Card, ":") || c.Plate != "b-xy 123" {
		t.Fatalf("create --json = %+v", c)
	}
	// The PNG decodes to the payload.
	f, err := os.Open(c.PNG)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	bmp, _ := gozxing.NewBinaryBitmapFromImage(img)
	res, err := gzqr.NewQRCodeReader().Decode(bmp, nil)
	if err != nil || res.GetText() != c.QRPayload {
		t.Fatalf("PNG decodes to %v, %v; want %s", res, err, c.QRPayload)
	}
	// The state has the hashes the device will compute.
	h, _ := access.NewHasher([]byte("intercomd-test-site-key-32-bytes"))
	want, _ := h.Hash(access.KindPIN, c.PIN)
	st, _ := os.ReadFile(filepath.Join(dir, "state.json"))
	if !strings.Contains(string(st), want.String()) {
		t.Errorf("state file lacks the PIN hash %s", want)
	}
	list := visitctl(t, append(g, "list")...)
	if !strings.Contains(list, c.VisitID) || strings.Contains(list, c.PIN) {
		t.Errorf("list = %q; want the visit and no secret", list)
	}
	visitctl(t, append(g, "update", c.VisitID, "--end", "+72h", "--pin=97531", "--daily", "all")...)
	h2, _ := access.NewHasher([]byte("intercomd-test-site-key-32-bytes"))
	newPIN, _ := h2.Hash(access.KindPIN, "97531")
	st2, _ := os.ReadFile(filepath.Join(dir, "state.json"))
	if !strings.Contains(string(st2), newPIN.String()) || strings.Contains(string(st2), want.String()) {
		t.Error("update did not replace the PIN hash")
	}
	if list := visitctl(t, append(g, "list", "--json")...); !strings.Contains(list, `"version":2`) || strings.Contains(list, `"daily"`) {
		t.Errorf("after update: %s", list)
	}
	visitctl(t, append(g, "delete", c.VisitID)...)
	if list := visitctl(t, append(g, "list")...); strings.Contains(list, c.VisitID+" ") {
		t.Errorf("deleted visit still listed: %q", list)
	}
	// Human output prints the PIN and a terminal QR code.
	human := visitctl(t, append(g, "create", "--name", "Bo", "--intercom", "door-1", "--pin=246810", "--qr")...)
	if !strings.Contains(human, "246810") || !strings.ContainsAny(human, "▀▄█") {
		t.Errorf("human output lacks the PIN or the QR:\n%s", human)
	}
}

func TestCreateBadInput(t *testing.T) {
	_, g := setup(t)
	for _, args := range [][]string{
		{"create", "--name", "x", "--pin"},                                       // no intercom
		{"create", "--intercom", "d", "--pin=12"},                                // short PIN
		{"create", "--intercom", "d"},                                            // no credential
		{"create", "--intercom", "d", "--pin", "--end", "yesterday"},             // bad time
		{"create", "--intercom", "d", "--pin", "--daily", "9-5"},                 // bad window
		{"create", "--intercom", "d", "--pin", "--start", "+2h", "--end", "+1h"}, // end before start
		{"delete", "nope"},
		{"update", "nope", "--pin=12345"},
		{"frobnicate"},
	} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), append(append([]string{}, g...), args...), &out, &errb); err == nil {
			t.Errorf("visitctl %v succeeded", args)
		}
	}
}

// TestCreatePublishes checks that create with --broker publishes the delta
// and the retained head, and that serve answers a snapshot request.
func TestCreatePublishes(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	_, g := setup(t)
	g = append(g, "--broker", b.URL())
	got := make(chan mqtt.Message, 16)
	o := mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("watcher")
	cl := mqtt.NewClient(o)
	if tok := cl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer cl.Disconnect(0)
	if tok := cl.Subscribe("intercom/door-1/keys/#", 1, func(_ mqtt.Client, m mqtt.Message) { got <- m }); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	var c created
	if err := json.Unmarshal([]byte(visitctl(t, append(g, "create", "--intercom", "door-1", "--pin=13579", "--json")...)), &c); err != nil {
		t.Fatal(err)
	}
	var delta wire.Delta
	var head wire.Head
	for delta.Rev == 0 || head.Rev == 0 {
		select {
		case m := <-got:
			switch {
			case strings.HasSuffix(m.Topic(), "/delta"):
				if err := wire.Decode(m.Payload(), &delta); err != nil {
					t.Fatal(err)
				}
			case strings.HasSuffix(m.Topic(), "/head"):
				if err := wire.Decode(m.Payload(), &head); err != nil {
					t.Fatal(err)
				}
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no delta and head published")
		}
	}
	if delta.Rev != 1 || delta.PrevRev != 0 || len(delta.Upserts) != 1 || delta.Upserts[0].ID != c.VisitID || head.Rev != 1 {
		t.Fatalf("delta %+v head %+v", delta, head)
	}
	if strings.Contains(string(must(json.Marshal(delta))), "13579") {
		t.Fatal("the delta carries the PIN in clear")
	}
	// serve answers snapshot requests from the state file.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, append(g, "serve"), &bytes.Buffer{}, &bytes.Buffer{}) }()
	defer func() { cancel(); <-done }()
	req := must(wire.Encode(&wire.SnapshotRequest{RequestID: "req-0000001", Reason: wire.SnapStart, At: time.Now().UTC()}))
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			cl.Publish("intercom/door-1/keys/request", 1, false, req) // until serve is up
		case m := <-got:
			if !strings.HasSuffix(m.Topic(), "/snapshot") {
				continue
			}
			var ch wire.SnapshotChunk
			if err := wire.Decode(m.Payload(), &ch); err != nil {
				t.Fatal(err)
			}
			if ch.RequestID != "req-0000001" || ch.Rev != 1 || len(ch.Visits) != 1 || ch.Visits[0].ID != c.VisitID {
				t.Fatalf("snapshot chunk %+v", ch)
			}
			return
		case <-deadline:
			t.Fatal("serve did not answer the snapshot request")
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestEventsFollow prints each event once, even when its batch arrives
// twice (at-least-once delivery).
func TestEventsFollow(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	_, g := setup(t)
	g = append(g, "--broker", b.URL())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() {
		done <- run(context.Background(), append(g, "events", "--for", "3s", "--json"), &out, &bytes.Buffer{})
	}()
	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(b.URL()).SetClientID("door-1"))
	if tok := cl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	defer cl.Disconnect(0)
	batch := must(wire.Encode(&wire.EventBatch{Device: "door-1", Events: []access.Event{
		{ID: "0123456789abcdef0123456789abcdef", Type: access.EventAccessGranted, At: time.Now().UTC(), Reason: access.ReasonGranted, Kind: "pin", Reader: "keypad0"},
		{ID: "fedcba9876543210fedcba9876543210", Type: access.EventDoorOpened, At: time.Now().UTC(), Reader: "dpi0"},
	}}))
	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) { // until the follower is subscribed, and then some
		cl.Publish("intercom/door-1/events", 1, false, batch).WaitTimeout(time.Second)
		time.Sleep(100 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"type":"access.granted"`) || !strings.Contains(lines[1], `"device":"door-1"`) {
		t.Fatalf("events output (want each event once, in order):\n%s", out.String())
	}
}
