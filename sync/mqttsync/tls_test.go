package mqttsync

import (
	"context"
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/intercomd/intercomd/internal/mqtttest"
	"github.com/intercomd/intercomd/store"
	"github.com/intercomd/intercomd/sync/cloudsim"
)

func TestTLSClientCertificate(t *testing.T) {
	var b *mqtttest.Broker
	r := newRig(t, mqtttest.Options{TLS: true}, func(o *Options) {
		// The device's certificate comes from files, reloaded per handshake.
		dir := t.TempDir()
		cert, err := brokerOf(t, o.Broker).CA().Issue(device, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), false)
		if err != nil {
			t.Fatal(err)
		}
		ca := filepath.Join(dir, "ca.pem")
		os.WriteFile(ca, brokerOf(t, o.Broker).CA().CertPEM(), 0o600)
		os.WriteFile(filepath.Join(dir, "c.pem"), cert.CertPEM, 0o600)
		os.WriteFile(filepath.Join(dir, "c.key"), cert.KeyPEM, 0o600)
		if o.TLS, err = TLSFiles(ca, filepath.Join(dir, "c.pem"), filepath.Join(dir, "c.key")); err != nil {
			t.Fatal(err)
		}
		o.TLS.ServerName = "127.0.0.1"
	})
	b = r.broker
	if _, err := r.cloud.Create(spec(cloudsim.Secrets{PIN: "1357"})); err != nil {
		t.Fatal(err)
	}
	r.converge(15 * time.Second)

	other, err := mqtttest.NewCA("someone else")
	if err != nil {
		t.Fatal(err)
	}
	good := b.CA()
	cases := []struct {
		name string
		cfg  func() *tls.Config
	}{
		{"client cert from another CA", func() *tls.Config {
			c, _ := other.Issue(device, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), false)
			return &tls.Config{RootCAs: good.Pool(), Certificates: []tls.Certificate{c.TLS}, ServerName: "127.0.0.1"}
		}},
		{"expired client cert", func() *tls.Config {
			c, _ := good.Issue(device, time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour), false)
			return &tls.Config{RootCAs: good.Pool(), Certificates: []tls.Certificate{c.TLS}, ServerName: "127.0.0.1"}
		}},
		{"server from an untrusted CA", func() *tls.Config {
			c, _ := good.Issue(device, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), false)
			return &tls.Config{RootCAs: other.Pool(), Certificates: []tls.Certificate{c.TLS}, ServerName: "127.0.0.1"}
		}},
		{"no client cert", func() *tls.Config { return &tls.Config{RootCAs: good.Pool(), ServerName: "127.0.0.1"} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			db, err := store.Open(filepath.Join(t.TempDir(), "s.db"), store.Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			o := testOptions(b.URL())
			o.Device, o.Store, o.TLS = "intruder", db, c.cfg()
			cl, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error)
			go func() { done <- cl.Run(ctx) }()
			waitFor(t, 10*time.Second, "two refused connection attempts", func() bool { return cl.Stats().ConnectFailures >= 2 })
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v, want nil on cancellation", err)
			}
			if s := cl.Stats(); s.Connects != 0 {
				t.Errorf("connected %d times with %s", s.Connects, c.name)
			}
		})
	}
}

// brokerOf finds the running test broker for a URL (set by newRig before
// the tweak runs).
func brokerOf(t *testing.T, url string) *mqtttest.Broker {
	t.Helper()
	b := currentBroker
	if b == nil || b.URL() != url {
		t.Fatal("no broker for " + url)
	}
	return b
}

// TestTLSCertificateRotation: the client certificate is read from its files
// at every handshake, so a rotated certificate is used on the next
// reconnect without a restart.
func TestTLSCertificateRotation(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, caFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "c.key"), filepath.Join(dir, "ca.pem")
	install := func(ca *mqtttest.CA, notAfter time.Time) {
		c, err := ca.Issue(device, time.Now().Add(-48*time.Hour), notAfter, false)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(certFile, c.CertPEM, 0o600)
		os.WriteFile(keyFile, c.KeyPEM, 0o600)
	}
	r := newRig(t, mqtttest.Options{TLS: true}, func(o *Options) {
		ca := brokerOf(t, o.Broker).CA()
		os.WriteFile(caFile, ca.CertPEM(), 0o600)
		install(ca, time.Now().Add(time.Hour))
		var err error
		if o.TLS, err = TLSFiles(caFile, certFile, keyFile); err != nil {
			t.Fatal(err)
		}
		o.TLS.ServerName = "127.0.0.1"
	})
	waitFor(t, 15*time.Second, "the connection", func() bool { return r.client.Stats().Connected })
	// An expired certificate in the files: the next handshake fails.
	install(r.broker.CA(), time.Now().Add(-time.Hour))
	failures := r.client.Stats().ConnectFailures
	r.broker.Kill()
	r.broker.Start()
	waitFor(t, 15*time.Second, "refused reconnects with the expired certificate", func() bool { return r.client.Stats().ConnectFailures >= failures+2 })
	if r.client.Stats().Connected {
		t.Fatal("connected with an expired certificate")
	}
	// A renewed one: the client picks it up by itself.
	install(r.broker.CA(), time.Now().Add(time.Hour))
	waitFor(t, 15*time.Second, "the reconnection with the renewed certificate", func() bool { return r.client.Stats().Connected })
}
