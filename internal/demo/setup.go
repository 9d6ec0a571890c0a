package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/internal/mqtttest"
	"github.com/intercomd/intercomd/localapi"
	"github.com/intercomd/intercomd/sync/cloudsim"
)

// Setup is a private world for one demo run: a mosquitto on a free loopback
// port, a site key shared by the daemon and the cloud stand-in, and a
// simulation config for intercomd.
type Setup struct {
	Dir     string
	Broker  *mqtttest.Broker
	SiteKey []byte
	Config  string // path of intercomd's config
	Socket  string
	Device  string
	State   string // the cloud stand-in's state file
	KeyFile string // the site key, hex
}

// Prepare starts the broker and writes the files under dir.
func Prepare(dir string) (*Setup, error) {
	s := &Setup{Dir: dir, Device: "door-01"}
	port, err := mqtttest.FreePort()
	if err != nil {
		return nil, err
	}
	mdir := filepath.Join(dir, "mosquitto")
	if err := os.MkdirAll(mdir, 0o755); err != nil {
		return nil, err
	}
	s.Broker, err = mqtttest.StartBroker(mdir, port)
	if err != nil {
		return nil, fmt.Errorf("demo: mosquitto: %w", err)
	}
	s.SiteKey = make([]byte, 32)
	rand.Read(s.SiteKey)
	keyFile := filepath.Join(dir, "site.key")
	s.KeyFile = keyFile
	if err := os.WriteFile(keyFile, []byte(hex.EncodeToString(s.SiteKey)+"\n"), 0o600); err != nil {
		return nil, err
	}
	s.Socket = filepath.Join(dir, "run", "intercomd.sock")
	s.State = filepath.Join(dir, "visitctl-state.json")
	s.Config = filepath.Join(dir, "intercomd.toml")
	cfg := fmt.Sprintf(`# intercomd simulation config written by the demo
device_id = %q
hardware = "sim"
site_key_file = %q
database = %q

[site]
time_zone = "Europe/Berlin"

[camera]
enabled = true

[mqtt]
broker = %q

[debug]
socket = %q

[log]
level = "info"
`, s.Device, keyFile, filepath.Join(dir, "db", "intercomd.db"), s.Broker.URL(), s.Socket)
	if err := os.WriteFile(s.Config, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	return s, nil
}

// Cloud connects the cloud stand-in (visitctl's engine) to the broker.
func (s *Setup) Cloud(ctx context.Context) (*cloudsim.Cloud, error) {
	h, err := access.NewHasher(s.SiteKey)
	if err != nil {
		return nil, err
	}
	return cloudsim.Dial(ctx, cloudsim.Options{Broker: s.Broker.URL(), Hasher: h, File: &cloudsim.File{Path: s.State}})
}

// WaitSocket waits for the daemon's technician socket to answer.
func (s *Setup) WaitSocket(ctx context.Context, within time.Duration) (*localapi.Client, error) {
	c := &localapi.Client{Path: s.Socket}
	deadline := time.Now().Add(within)
	for {
		if _, err := c.Status(ctx); err == nil {
			return c, nil
		} else if time.Now().After(deadline) {
			return nil, fmt.Errorf("demo: daemon socket %s: %w", s.Socket, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// VisitctlArgs are visitctl's global flags for this world.
func (s *Setup) VisitctlArgs() []string {
	return []string{"--state", s.State, "--site-key-file", s.KeyFile, "--broker", s.Broker.URL()}
}

// Close stops the broker.
func (s *Setup) Close() {
	if s.Broker != nil {
		s.Broker.Close()
	}
}
