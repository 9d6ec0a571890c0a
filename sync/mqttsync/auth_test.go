package mqttsync

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/intercomd/intercomd/internal/mqtttest"
	"github.com/intercomd/intercomd/store"
	"github.com/intercomd/intercomd/sync/cloudsim"
)

// TestUsernamePassword: with a password file, the right password connects
// and a wrong one is refused (and retried with backoff, not crashed on).
func TestUsernamePassword(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{Users: map[string]string{device: "s3cret-door"}})
	for _, c := range []struct {
		name, password string
		ok             bool
	}{{"right password", "s3cret-door", true}, {"wrong password", "guess", false}, {"no password", "", false}} {
		t.Run(c.name, func(t *testing.T) {
			db, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			o := testOptions(b.URL())
			o.Store = db
			if c.password != "" {
				o.Username, o.Password = device, c.password
			}
			cl, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error)
			go func() { done <- cl.Run(ctx) }()
			if c.ok {
				waitFor(t, 15*time.Second, "the connection", func() bool { return cl.Stats().Connected })
			} else {
				waitFor(t, 15*time.Second, "two refusals", func() bool { return cl.Stats().ConnectFailures >= 2 })
				if n := cl.Stats().Connects; n != 0 {
					t.Errorf("connected %d times", n)
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v", err)
			}
		})
	}
}

// TestHungBroker: a broker that stops answering (SIGSTOP) is detected by
// the keep-alive; the client reconnects once it answers again, and sync
// resumes.
func TestHungBroker(t *testing.T) {
	r := newRig(t, mqtttestOptions(), func(o *Options) { o.KeepAlive = time.Second })
	waitFor(t, 15*time.Second, "the connection", func() bool { return r.client.Stats().Connected })
	if err := r.broker.Pause(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the keep-alive to notice", func() bool { return !r.client.Stats().Connected })
	if err := r.broker.Resume(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 15*time.Second, "the reconnection", func() bool { s := r.client.Stats(); return s.Connected && s.Connects >= 2 })
	if _, err := r.cloud.Create(spec(cloudsim.Secrets{PIN: "112233"})); err != nil {
		t.Fatal(err)
	}
	r.converge(15 * time.Second)
}

// TestDuplicateClientIDNoStorm: two daemons configured with the same device
// id kick each other off the broker; the backoff after each loss keeps this
// from becoming a reconnect storm.
func TestDuplicateClientIDNoStorm(t *testing.T) {
	b := mqtttest.Start(t, mqtttest.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	var clients []*Client
	done := make(chan error, 2)
	for range 2 {
		db, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		o := testOptions(b.URL())
		o.Store = db
		cl, err := New(o)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cl)
		go func() { done <- cl.Run(ctx) }()
	}
	time.Sleep(3 * time.Second) // a storm would be hundreds of connects by now
	cancel()
	for range 2 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	total := clients[0].Stats().Connects + clients[1].Stats().Connects
	// MaxBackoff is 300 ms in tests: at most ~3 s / 150 ms per client.
	if total < 2 || total > 50 {
		t.Errorf("%d connects in 3 s between two clients with one id", total)
	}
	t.Logf("%d connects", total)
}
