package mqtttest

import (
	"crypto/tls"
	"net"
	"testing"
	"time"
)

func dialOK(t *testing.T, addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func TestBrokerLifecycle(t *testing.T) {
	b := Start(t, Options{})
	if !dialOK(t, b.Addr()) {
		t.Fatal("broker not accepting connections after Start")
	}
	if err := b.Kill(); err != nil {
		t.Fatal(err)
	}
	if dialOK(t, b.Addr()) {
		t.Fatal("broker still accepting connections after Kill")
	}
	if err := b.Start(); err != nil {
		t.Fatalf("restart on the same port: %v", err)
	}
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	if !dialOK(t, b.Addr()) {
		t.Fatal("broker not accepting after Restart")
	}
	if err := b.Pause(); err != nil {
		t.Fatal(err)
	}
	if err := b.Resume(); err != nil {
		t.Fatal(err)
	}
}

func TestTLSBroker(t *testing.T) {
	b := Start(t, Options{TLS: true})
	cfg, err := b.ClientTLS("door-1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", b.Addr(), cfg)
	if err != nil {
		t.Fatalf("TLS with a client certificate: %v", err)
	}
	if err := c.Handshake(); err != nil {
		t.Fatal(err)
	}
	c.Close()
}
