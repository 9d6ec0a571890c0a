// Package config is intercomd's configuration file: its schema, strict TOML
// decoding, and validation with errors that name file:line:key. It imports
// nothing heavier than the TOML decoder, so the parser can be fuzzed at a
// few hundred thousand inputs a minute per core.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pelletier/go-toml/v2"

	"github.com/intercomd/intercomd/device/serialport"
)

// Config is intercomd's configuration file (TOML, strictly decoded). Zero
// values mean the defaults documented beside each field and in the README.
type Config struct {
	DeviceID    string `toml:"device_id"`     // required: MQTT client id and topic segment
	Intercom    string `toml:"intercom"`      // id matched against a visit's intercoms; default device_id
	Hardware    string `toml:"hardware"`      // "device" (default) or "sim"
	SiteKeyFile string `toml:"site_key_file"` // required: hex HMAC key provisioned by the cloud
	Database    string `toml:"database"`      // default /var/lib/intercomd/intercomd.db

	Site    SiteConfig    `toml:"site"`
	Access  AccessConfig  `toml:"access"`
	Relay   RelayConfig   `toml:"relay"`
	Wiegand WiegandConfig `toml:"wiegand"`
	Keypad  KeypadConfig  `toml:"keypad"`
	Camera  CameraConfig  `toml:"camera"`
	MQTT    MQTTConfig    `toml:"mqtt"`
	Debug   DebugConfig   `toml:"debug"`
	Log     LogConfig     `toml:"log"`
	Metrics MetricsConfig `toml:"metrics"`
}

// SiteConfig describes the site.
type SiteConfig struct {
	TimeZone string `toml:"time_zone"` // IANA name; default UTC. tzdata is embedded.
}

// AccessConfig holds the decision rules' settings; the cloud may change them
// at run time with a config command.
type AccessConfig struct {
	VisitKeysEnabled *bool    `toml:"visit_keys_enabled"` // default true
	DoorMode         string   `toml:"door_mode"`          // "normal" (default) or "third_party"
	SingleUseWindow  Duration `toml:"single_use_window"`  // default 5m, 10s..24h
	ClockTolerance   Duration `toml:"clock_tolerance"`    // default 5m
	OutboxMax        int      `toml:"outbox_max"`         // default 200000
}

// RelayConfig is the door output and door inputs.
type RelayConfig struct {
	Pin           string   `toml:"pin"`             // required on hardware; e.g. "GPIO17"
	ActiveLow     bool     `toml:"active_low"`      // default: energised = high
	UnlockTime    Duration `toml:"unlock_time"`     // default 10s, 1s..60s
	HeldOpenTime  Duration `toml:"held_open_time"`  // default 30s, 1s..10m
	DPIPin        string   `toml:"dpi_pin"`         // door position input; optional
	DPIOpenLow    bool     `toml:"dpi_open_low"`    // default: open = high (contact to ground held shut by the closed door, pull-up: a cut wire reads open)
	REXPin        string   `toml:"rex_pin"`         // request-to-exit input; optional
	REXActiveHigh bool     `toml:"rex_active_high"` // default: pressed = low (button to ground, pull-up)
	REXInLockdown bool     `toml:"rex_in_lockdown"` // let REX unlock during lockdown; default no (egress is mechanical)
	REXReportOnly bool     `toml:"rex_report_only"` // REX only raises door.rex (doors with mechanical egress)
	RelockOnClose bool     `toml:"relock_on_close"` // relock as soon as an unlocked door closes again
	Debounce      Duration `toml:"debounce"`        // door inputs must hold a level this long; default 20ms
}

// WiegandConfig is the card reader.
type WiegandConfig struct {
	Enabled bool     `toml:"enabled"`
	D0Pin   string   `toml:"d0_pin"`  // e.g. "GPIO5"
	D1Pin   string   `toml:"d1_pin"`  // e.g. "GPIO6"
	EOFMin  Duration `toml:"eof_min"` // adaptive end of frame clamp, default 3ms
	EOFMax  Duration `toml:"eof_max"` // default 100ms
	// Prefer37 picks the 37-bit layout: "h10304" (facility + card, default)
	// or "h10302" (card only); the bits cannot tell them apart.
	Prefer37   string   `toml:"prefer37"`
	Raw        string   `toml:"raw"`         // other lengths: "parity" (default), "no_parity" or "reject"
	PINTimeout Duration `toml:"pin_timeout"` // keypad bursts: pause that discards an entry; default 5s
}

// KeypadConfig is the TD63 keypad.
type KeypadConfig struct {
	Enabled      bool     `toml:"enabled"`
	Port         string   `toml:"port"`          // e.g. /dev/serial/by-id/...
	Baud         int      `toml:"baud"`          // default 115200
	DataBits     int      `toml:"data_bits"`     // default 8
	Parity       string   `toml:"parity"`        // none (default), odd, even, mark, space
	StopBits     string   `toml:"stop_bits"`     // 1 (default), 1.5, 2
	DigitTimeout Duration `toml:"digit_timeout"` // default 5s
}

// CameraConfig is the QR camera.
type CameraConfig struct {
	Enabled bool     `toml:"enabled"`
	Source  string   `toml:"source"`  // /dev/videoN, rtsp://…, a video file or an image directory
	HoldOff Duration `toml:"holdoff"` // same token not decided twice within; default 3s
	Workers int      `toml:"workers"` // decode workers; default the number of CPUs
}

// MQTTConfig is the link to the cloud.
type MQTTConfig struct {
	Broker       string `toml:"broker"` // tcp://host:1883, ssl://host:8883; empty = offline only
	Username     string `toml:"username"`
	PasswordFile string `toml:"password_file"`
	CAFile       string `toml:"ca_file"`
	CertFile     string `toml:"cert_file"`
	KeyFile      string `toml:"key_file"`
}

// DebugConfig is the technician socket.
type DebugConfig struct {
	Socket string `toml:"socket"` // default /run/intercomd/intercomd.sock
	Group  string `toml:"group"`  // group allowed to use it; default "intercom" if it exists, else root only
}

// LogConfig sets logging.
type LogConfig struct {
	Level  string `toml:"level"`  // debug, info (default), warn, error
	Format string `toml:"format"` // text (default) or json
}

// MetricsConfig enables Prometheus metrics.
type MetricsConfig struct {
	Listen string `toml:"listen"` // e.g. 127.0.0.1:9101; empty = off; must be a loopback address
}

// Duration is a time.Duration written as a Go duration string ("10s").
type Duration struct{ time.Duration }

// UnmarshalText parses a duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes a duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Error is a configuration error with its position in the file.
type Error struct {
	File   string
	Line   int // 0 when unknown
	Key    string
	Reason string
}

func (e *Error) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s:%d", e.File, e.Line)
	}
	if e.Key != "" {
		return fmt.Sprintf("config: %s: %s: %s", loc, e.Key, e.Reason)
	}
	return fmt.Sprintf("config: %s: %s", loc, e.Reason)
}

// maxConfigSize bounds the file: a config is a few hundred bytes.
const maxConfigSize = 1 << 20

// Load reads and validates the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates a config document. name is used in errors.
func Parse(name string, data []byte) (*Config, error) {
	if len(data) > maxConfigSize {
		return nil, &Error{File: name, Reason: fmt.Sprintf("file larger than %d bytes", maxConfigSize)}
	}
	var c Config
	dec := toml.NewDecoder(bytes.NewReader(data)).DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, decodeError(name, data, err)
	}
	if err := c.validate(); err != nil {
		var ce *Error
		if errors.As(err, &ce) {
			ce.File = name
			ce.Line = findKey(data, ce.Key)
		}
		return nil, err
	}
	return &c, nil
}

func decodeError(name string, data []byte, err error) error {
	var sm *toml.StrictMissingError
	if errors.As(err, &sm) && len(sm.Errors) > 0 {
		e := sm.Errors[0]
		line, _ := e.Position()
		return &Error{File: name, Line: line, Key: strings.Join(e.Key(), "."), Reason: "unknown key"}
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, _ := de.Position()
		return &Error{File: name, Line: line, Key: strings.Join(de.Key(), "."), Reason: strings.TrimPrefix(de.Error(), "toml: ")}
	}
	// Type errors carry no position in go-toml; name the key if we can.
	msg := strings.TrimPrefix(err.Error(), "toml: ")
	ce := &Error{File: name, Reason: msg}
	if _, v, ok := strings.Cut(msg, "invalid duration "); ok {
		ce.Key, ce.Line = findValue(data, strings.Trim(v, `"`))
		return ce
	}
	if i := strings.Index(msg, "struct field "); i >= 0 {
		rest := msg[i+len("struct field "):]
		if j := strings.IndexByte(rest, ' '); j > 0 {
			ce.Key = configKeyForField(rest[:j])
			ce.Line = findKey(data, ce.Key)
		}
	}
	return ce
}

// configKeyForField maps a Go field path such as "Config.Relay.UnlockTime"
// to its TOML key "relay.unlock_time".
func configKeyForField(path string) string {
	parts := strings.Split(path, ".")
	if len(parts) > 0 && parts[0] == "Config" {
		parts = parts[1:]
	}
	for i, p := range parts {
		parts[i] = snake(p)
	}
	return strings.Join(parts, ".")
}

func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if r >= 'A' && r <= 'Z' {
			if i > 0 && !(s[i-1] >= 'A' && s[i-1] <= 'Z') {
				b.WriteByte('_')
			}
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// findKey returns the 1-based line of a dotted key ("relay.unlock_time") in a
// TOML document, or 0. It understands [table] headers and top-level keys.
func findKey(data []byte, key string) int {
	if key == "" {
		return 0
	}
	table, leaf := "", key
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		table, leaf = key[:i], key[i+1:]
	}
	cur := ""
	for n, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			cur = strings.TrimSpace(strings.Trim(t, "[]"))
			if leaf == "" || cur == key {
				if cur == key {
					return n + 1
				}
			}
			continue
		}
		k, _, ok := strings.Cut(t, "=")
		if ok && cur == table && strings.TrimSpace(k) == leaf {
			return n + 1
		}
	}
	return 0
}

// findValue returns the dotted key and line of the only assignment whose
// value is v (quoted or not), or "" and 0 if there is not exactly one.
func findValue(data []byte, v string) (string, int) {
	key, at, cur := "", 0, ""
	for n, line := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "[") && strings.HasSuffix(t, "]") {
			cur = strings.TrimSpace(strings.Trim(t, "[]"))
			continue
		}
		k, val, ok := strings.Cut(t, "=")
		if !ok || strings.Trim(strings.TrimSpace(val), `"'`) != v {
			continue
		}
		if at != 0 {
			return "", 0
		}
		key, at = strings.TrimSpace(k), n+1
		if cur != "" {
			key = cur + "." + key
		}
	}
	return key, at
}

func bad(key, format string, args ...any) error {
	return &Error{Key: key, Reason: fmt.Sprintf(format, args...)}
}

func (c *Config) validate() error {
	if c.DeviceID == "" {
		return bad("device_id", "required")
	}
	if !validID(c.DeviceID) {
		return bad("device_id", "must be 1-64 characters of a-z, A-Z, 0-9, '-', '_'")
	}
	if c.Intercom == "" {
		c.Intercom = c.DeviceID
	}
	if err := oneOf("hardware", &c.Hardware, "device", "sim"); err != nil {
		return err
	}
	if c.SiteKeyFile == "" {
		return bad("site_key_file", "required")
	}
	if c.Database == "" {
		c.Database = "/var/lib/intercomd/intercomd.db"
	}
	if c.Site.TimeZone == "" {
		c.Site.TimeZone = "UTC"
	}
	if _, err := time.LoadLocation(c.Site.TimeZone); err != nil {
		return bad("site.time_zone", "unknown time zone %q", c.Site.TimeZone)
	}
	a := &c.Access
	if a.VisitKeysEnabled == nil {
		t := true
		a.VisitKeysEnabled = &t
	}
	if err := oneOf("access.door_mode", &a.DoorMode, "normal", "third_party"); err != nil {
		return err
	}
	if err := defaultRange("access.single_use_window", &a.SingleUseWindow, 5*time.Minute, 10*time.Second, 24*time.Hour); err != nil {
		return err
	}
	if err := defaultRange("access.clock_tolerance", &a.ClockTolerance, 5*time.Minute, 0, 24*time.Hour); err != nil {
		return err
	}
	if a.OutboxMax == 0 {
		a.OutboxMax = 200000
	}
	if a.OutboxMax < 100 || a.OutboxMax > 10_000_000 {
		return bad("access.outbox_max", "must be between 100 and 10000000, not %d", a.OutboxMax)
	}
	r := &c.Relay
	if err := defaultRange("relay.unlock_time", &r.UnlockTime, 10*time.Second, time.Second, 60*time.Second); err != nil {
		return err
	}
	if err := defaultRange("relay.held_open_time", &r.HeldOpenTime, 30*time.Second, time.Second, 10*time.Minute); err != nil {
		return err
	}
	if c.Hardware == "device" && r.Pin == "" {
		return bad("relay.pin", "required with hardware = \"device\"")
	}
	w := &c.Wiegand
	if err := defaultRange("wiegand.eof_min", &w.EOFMin, 3*time.Millisecond, time.Millisecond, 100*time.Millisecond); err != nil {
		return err
	}
	if err := defaultRange("wiegand.eof_max", &w.EOFMax, 100*time.Millisecond, w.EOFMin.Duration, time.Second); err != nil {
		return err
	}
	switch w.Prefer37 {
	case "", "h10304", "h10302":
	default:
		return bad("wiegand.prefer37", "must be h10304 or h10302, not %q", w.Prefer37)
	}
	switch w.Raw {
	case "", "parity", "no_parity", "reject":
	default:
		return bad("wiegand.raw", "must be parity, no_parity or reject, not %q", w.Raw)
	}
	if err := defaultRange("wiegand.pin_timeout", &w.PINTimeout, 5*time.Second, time.Second, time.Minute); err != nil {
		return err
	}
	if err := defaultRange("relay.debounce", &r.Debounce, 20*time.Millisecond, time.Millisecond, time.Second); err != nil {
		return err
	}
	if w.Enabled && c.Hardware == "device" && (w.D0Pin == "" || w.D1Pin == "") {
		return bad("wiegand.d0_pin", "d0_pin and d1_pin are required when wiegand is enabled")
	}
	k := &c.Keypad
	if k.Baud == 0 {
		k.Baud = 115200
	}
	switch k.Baud {
	case 9600, 19200, 38400, 57600, 115200:
	default:
		return bad("keypad.baud", "must be 9600, 19200, 38400, 57600 or 115200, not %d", k.Baud)
	}
	if k.DataBits == 0 {
		k.DataBits = 8
	}
	if k.DataBits < 5 || k.DataBits > 8 {
		return bad("keypad.data_bits", "must be 5 to 8, not %d", k.DataBits)
	}
	if k.Parity == "" {
		k.Parity = "none"
	}
	if _, err := serialport.ParseParity(k.Parity); err != nil {
		return bad("keypad.parity", "must be none, odd, even, mark or space, not %q", k.Parity)
	}
	if k.StopBits == "" {
		k.StopBits = "1"
	}
	if _, err := serialport.ParseStopBits(k.StopBits); err != nil {
		return bad("keypad.stop_bits", "must be 1, 1.5 or 2, not %q", k.StopBits)
	}
	if err := defaultRange("keypad.digit_timeout", &k.DigitTimeout, 5*time.Second, time.Second, time.Minute); err != nil {
		return err
	}
	if k.Enabled && c.Hardware == "device" && k.Port == "" {
		return bad("keypad.port", "required when keypad is enabled")
	}
	cam := &c.Camera
	if err := defaultRange("camera.holdoff", &cam.HoldOff, 3*time.Second, 0, time.Minute); err != nil {
		return err
	}
	if cam.Workers < 0 || cam.Workers > 64 {
		return bad("camera.workers", "must be between 0 and 64, not %d", cam.Workers)
	}
	if cam.Enabled && c.Hardware == "device" && cam.Source == "" {
		return bad("camera.source", "required when camera is enabled")
	}
	m := &c.MQTT
	if m.Broker != "" {
		if !strings.HasPrefix(m.Broker, "tcp://") && !strings.HasPrefix(m.Broker, "ssl://") &&
			!strings.HasPrefix(m.Broker, "tls://") && !strings.HasPrefix(m.Broker, "mqtts://") && !strings.HasPrefix(m.Broker, "mqtt://") {
			return bad("mqtt.broker", "must start with tcp://, mqtt://, ssl://, tls:// or mqtts://, not %q", m.Broker)
		}
		if (m.CertFile == "") != (m.KeyFile == "") {
			return bad("mqtt.cert_file", "cert_file and key_file go together")
		}
	}
	if c.Debug.Socket == "" {
		c.Debug.Socket = "/run/intercomd/intercomd.sock"
	}
	if err := oneOf("log.level", &c.Log.Level, "info", "debug", "warn", "error"); err != nil {
		return err
	}
	if err := oneOf("log.format", &c.Log.Format, "text", "json"); err != nil {
		return err
	}
	if l := c.Metrics.Listen; l != "" && !loopback(l) {
		return bad("metrics.listen", "must be a loopback address such as 127.0.0.1:9101, not %q", l)
	}
	return nil
}

// oneOf checks that *v is one of allowed, setting it to allowed[0], the
// default, when empty.
func oneOf(key string, v *string, allowed ...string) error {
	if *v == "" {
		*v = allowed[0]
		return nil
	}
	if slices.Contains(allowed, *v) {
		return nil
	}
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = strconv.Quote(a)
	}
	return bad(key, "must be %s or %s, not %q", strings.Join(q[:len(q)-1], ", "), q[len(q)-1], *v)
}

func defaultRange(key string, d *Duration, def, lo, hi time.Duration) error {
	if d.Duration == 0 {
		d.Duration = def
	}
	if d.Duration < lo || d.Duration > hi {
		return bad(key, "must be between %v and %v, not %v", lo, hi, d.Duration)
	}
	return nil
}

func validID(s string) bool {
	if len(s) < 1 || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func loopback(addr string) bool {
	return strings.HasPrefix(addr, "127.") || strings.HasPrefix(addr, "localhost:") || strings.HasPrefix(addr, "[::1]:")
}
