package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const goodConfig = `device_id = "door-01"
site_key_file = "/etc/intercomd/site.key"
database = "/tmp/x.db"

[site]
time_zone = "Europe/Berlin"

[relay]
pin = "GPIO17"
unlock_time = "7s"
`

func TestParseGood(t *testing.T) {
	c, err := Parse("good.toml", []byte(goodConfig))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Relay.UnlockTime.Duration, 7*time.Second; got != want {
		t.Errorf("unlock_time = %v, want %v", got, want)
	}
	if got, want := c.Relay.HeldOpenTime.Duration, 30*time.Second; got != want {
		t.Errorf("held_open_time default = %v, want %v", got, want)
	}
	if got, want := c.Access.SingleUseWindow.Duration, 5*time.Minute; got != want {
		t.Errorf("single_use_window default = %v, want %v", got, want)
	}
	if !*c.Access.VisitKeysEnabled || c.Intercom != "door-01" || c.Hardware != "device" || c.Keypad.Baud != 115200 {
		t.Errorf("defaults not applied: %+v", c)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name     string
		doc      string
		wantLine int
		wantIn   string
	}{
		{"unknown top key", goodConfig + "colour = \"red\"\n", 11, "colour: unknown key"},
		{"unknown table key", "device_id = \"d\"\nsite_key_file = \"k\"\n[relay]\npin = \"GPIO1\"\nunlock = \"3s\"\n", 5, "relay.unlock: unknown key"},
		{"unlock too long", strings.Replace(goodConfig, `"7s"`, `"90s"`, 1), 10, "relay.unlock_time: must be between 1s and 1m0s"},
		{"unlock not a duration", strings.Replace(goodConfig, `"7s"`, `"soon"`, 1), 10, "invalid duration"},
		{"wrong type", strings.Replace(goodConfig, `"7s"`, `7`, 1), 10, "relay.unlock_time"},
		{"bad zone", strings.Replace(goodConfig, "Europe/Berlin", "Mars/Olympus", 1), 6, "unknown time zone"},
		{"missing device id", "site_key_file = \"k\"\n", 0, "device_id: required"},
		{"bad device id", "device_id = \"door 1\"\nsite_key_file = \"k\"\n", 1, "device_id: must be"},
		{"syntax", "device_id = \"d\n", 1, "config: syntax.toml:1"},
		{"hardware", "hardware = \"fpga\"\n" + goodConfig, 1, "hardware: must be"},
		{"door mode", goodConfig + "[access]\ndoor_mode = \"open\"\n", 12, "access.door_mode"},
		{"metrics not loopback", goodConfig + "[metrics]\nlisten = \"0.0.0.0:9101\"\n", 12, "must be a loopback"},
		{"baud", goodConfig + "[keypad]\nbaud = 1234\n", 12, "keypad.baud"},
		{"parity", goodConfig + "[keypad]\nparity = \"sometimes\"\n", 12, "keypad.parity"},
		{"stop bits", goodConfig + "[keypad]\nstop_bits = \"3\"\n", 12, "keypad.stop_bits"},
		{"data bits", goodConfig + "[keypad]\ndata_bits = 9\n", 12, "keypad.data_bits"},
		{"mqtt scheme", goodConfig + "[mqtt]\nbroker = \"http://x\"\n", 12, "mqtt.broker"},
		{"cert without key", goodConfig + "[mqtt]\nbroker = \"ssl://x:8883\"\ncert_file = \"c\"\n", 0, "cert_file and key_file"},
		{"relay pin required", "device_id = \"d\"\nsite_key_file = \"k\"\n", 0, "relay.pin: required"},
		{"log level", goodConfig + "[log]\nlevel = \"loud\"\n", 12, "log.level"},
		{"outbox", goodConfig + "[access]\noutbox_max = 5\n", 12, "access.outbox_max"},
		{"too big", strings.Repeat("#", maxConfigSize+1), 0, "larger than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := strings.ReplaceAll(tt.name, " ", "_") + ".toml"
			if tt.name == "syntax" {
				name = "syntax.toml"
			}
			_, err := Parse(name, []byte(tt.doc))
			if err == nil {
				t.Fatalf("ParseConfig succeeded, want error containing %q", tt.wantIn)
			}
			if !strings.Contains(err.Error(), tt.wantIn) {
				t.Errorf("error = %q, want it to contain %q", err, tt.wantIn)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error = %q does not name the file %s", err, name)
			}
			var ce *Error
			if errors.As(err, &ce) && tt.wantLine != 0 && ce.Line != tt.wantLine {
				t.Errorf("line = %d, want %d (%v)", ce.Line, tt.wantLine, err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(goodConfig))
	f.Add([]byte("device_id = \"d\"\n[relay]\nunlock_time = 3\n"))
	f.Add([]byte("[[x]]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.toml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "config: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		// Whatever was accepted must be within the documented ranges.
		if u := c.Relay.UnlockTime.Duration; u < time.Second || u > time.Minute {
			t.Fatalf("accepted unlock_time %v", u)
		}
		if c.DeviceID == "" || c.SiteKeyFile == "" {
			t.Fatal("accepted a config without required keys")
		}
	})
}

// TestShippedConfigParses keeps the example in dist/ (and so the README's
// configuration reference) in step with the decoder.
func TestShippedConfigParses(t *testing.T) {
	c, err := Load("../../dist/intercomd.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Relay.Pin != "GPIO17" || c.Camera.HoldOff.Duration != 3*time.Second || c.Wiegand.EOFMax.Duration != 100*time.Millisecond {
		t.Errorf("example not decoded as written: %+v", c)
	}
}
