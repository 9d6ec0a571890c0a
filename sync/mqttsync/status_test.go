package mqttsync

import (
	"syscall"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/sync/cloudsim"
	"github.com/intercomd/intercomd/sync/wire"
)

// watchStatus subscribes to the device's retained status.
func watchStatus(t *testing.T, url string) <-chan wire.Status {
	ch := make(chan wire.Status, 64)
	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(url).SetClientID("status-watcher"))
	if tok := cl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal("watcher connect:", tok.Error())
	}
	t.Cleanup(func() { cl.Disconnect(0) })
	tok := cl.Subscribe(wire.TopicStatus.Name(device), 1, func(_ mqtt.Client, m mqtt.Message) {
		var s wire.Status
		if err := wire.Decode(m.Payload(), &s); err != nil {
			t.Errorf("status: %v", err)
			return
		}
		ch <- s
	})
	if !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatal(tok.Error())
	}
	return ch
}

func nextState(t *testing.T, ch <-chan wire.Status, state string) wire.Status {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case s := <-ch:
			if s.State == state {
				return s
			}
		case <-deadline:
			t.Fatalf("no %s status", state)
		}
	}
}

func TestStatusAndLastWill(t *testing.T) {
	r := newRig(t, mqtttestOptions(), func(o *Options) { o.Heartbeat = 100 * time.Millisecond })
	if _, err := r.cloud.Create(spec(cloudsim.Secrets{PIN: "2468"})); err != nil {
		t.Fatal(err)
	}
	r.converge(15 * time.Second)
	ch := watchStatus(t, r.broker.URL())
	s := nextState(t, ch, wire.StateOnline)
	for s.Revision != 1 || s.CacheSize != 1 {
		s = nextState(t, ch, wire.StateOnline) // heartbeats catch up
	}
	if !s.ClockTrusted || s.Readers["keypad0"] != "ok" || s.Version != "test" {
		t.Errorf("status %+v lacks the handler's health", s)
	}
	r.stop() // clean shutdown says offline itself
	nextState(t, ch, wire.StateOffline)

	// A killed daemon: the broker publishes the last will.
	child := startHelper(t, t.TempDir(), r.broker.URL(), helperEnv+"_KEYS_ONLY=1")
	nextState(t, ch, wire.StateOnline)
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	if s := nextState(t, ch, wire.StateOffline); s.Device != device {
		t.Errorf("will %+v", s)
	}
}

func TestPlateAndFaceReads(t *testing.T) {
	r := newRig(t, mqtttestOptions(), nil)
	if _, err := r.cloud.Create(spec(cloudsim.Secrets{Plate: "B XY 123", Face: "subj-0042"})); err != nil {
		t.Fatal(err)
	}
	r.converge(15 * time.Second)
	now := time.Now().UTC()
	reads := []struct {
		topic wire.Topic
		msg   wire.Message
	}{
		{wire.TopicPlate, &wire.PlateRead{Camera: "lpr0", Plate: "b-xy123", Confidence: 0.93, At: now}},
		{wire.TopicFace, &wire.FaceRead{Camera: "face0", Subject: "subj-0042", Score: 0.9, At: now}},
		{wire.TopicPlate, &wire.PlateRead{Camera: "lpr0", Plate: "ZZ999", Confidence: 0.99, At: now}},
	}
	for _, rd := range reads {
		if err := r.cloud.Publish(rd.topic.Name(device), rd.msg, false); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, 15*time.Second, "three decisions", func() bool { return r.client.Stats().Reads == 3 })
	r.door.mu.Lock()
	defer r.door.mu.Unlock()
	want := []struct {
		kind   access.Kind
		reader string
		grant  bool
	}{{access.KindPlate, "lpr0", true}, {access.KindFace, "face0", true}, {access.KindPlate, "lpr0", false}}
	got := map[string]int{}
	for _, d := range r.door.decisions {
		for i, w := range want {
			if d.Kind == w.kind && d.Reader == w.reader && d.Grant == w.grant {
				got[string(rune('0'+i))]++
			}
		}
	}
	if len(got) != 3 {
		t.Errorf("decisions %+v, want a plate grant, a face grant and a plate deny", r.door.decisions)
	}
}
