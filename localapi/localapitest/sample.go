package localapitest

import (
	"time"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/localapi"
)

// Sample returns a fake daemon with a plausible state at now: two readers
// (one offline), three visits (one deleted), recent events, a denied
// explanation, Wiegand frames, keypad counters and a tiny JPEG. Tests and
// documentation examples start from it.
func Sample(now time.Time) *Backend {
	uid := 1000
	return &Backend{
		St: localapi.Status{
			Now: now, Started: now.Add(-3*time.Hour - 12*time.Minute),
			MQTT:   localapi.MQTTStatus{State: "connected", Broker: "ssl://mqtt.example.net:8883", Since: now.Add(-2 * time.Hour)},
			Sync:   localapi.SyncStatus{Revision: 48213, LastSync: now.Add(-42 * time.Second), ServerTime: now.Add(-40 * time.Second)},
			Cache:  localapi.CacheStatus{Visits: 812, Credentials: 2301, Tombstones: 17},
			Outbox: localapi.OutboxStatus{Depth: 3},
			Readers: []localapi.ReaderHealth{
				{ID: "camera0", Kind: "camera", Online: true, LastActivity: now.Add(-2 * time.Second)},
				{ID: "keypad0", Kind: "keypad", Online: true, LastActivity: now.Add(-5 * time.Minute), Errors: 2},
				{ID: "wiegand0", Kind: "wiegand", Online: false, LastActivity: now.Add(-26 * time.Hour), Errors: 14, Detail: "no frames since boot-time noise burst"},
			},
			Door:     localapi.DoorStatus{Relay: "locked", Door: "closed"},
			Clock:    localapi.ClockStatus{Trusted: true},
			Versions: localapi.Versions{Daemon: "v0.3.0", Schema: 1, Go: "go1.26.8"},
			LogLevel: "INFO",
		},
		KeyList: []localapi.Key{
			{ID: "visit-7f3a", Version: 3, Start: now.Add(-time.Hour), End: now.Add(3 * time.Hour), Intercoms: []string{"front"},
				Credentials: []localapi.KeyCredential{{Kind: "pin", HashPrefix: "a1b2c3d4"}, {Kind: "qr", HashPrefix: "09f1e2aa"}}},
			{ID: "visit-2c91", Version: 1, Start: now.Add(-24 * time.Hour), End: now.Add(48 * time.Hour), Days: "mon,tue,wed,thu,fri", Daily: "08:00-18:00",
				Intercoms: []string{"front", "garage"}, SingleUse: true, FirstUse: now.Add(-20 * time.Hour),
				Credentials: []localapi.KeyCredential{{Kind: "card", HashPrefix: "77aa0b1c"}}},
			{ID: "visit-0d44", Version: 6, Start: now.Add(-72 * time.Hour), End: now.Add(-48 * time.Hour), Deleted: true},
		},
		Recent: []access.Event{
			{ID: "e1", Type: access.EventAccessDenied, At: now.Add(-5 * time.Minute), Reason: access.ReasonUnknownCredential, Kind: "pin", Reader: "keypad0", TookUS: 310},
			{ID: "e2", Type: access.EventAccessGranted, At: now.Add(-4 * time.Minute), Reason: access.ReasonGranted, VisitID: "visit-7f3a", Kind: "pin", Reader: "keypad0", TookUS: 820},
			{ID: "e3", Type: access.EventRelay, At: now.Add(-4 * time.Minute), Reader: "relay0", Detail: "unlocked for 10s"},
			{ID: "e4", Type: access.EventAudit, At: now.Add(-time.Minute), Reader: localapi.AuditReader, UID: &uid, Detail: "relay pulse 5s pid=4711"},
		},
		Decision: access.Decision{Grant: false, Reason: access.ReasonDailyWindow, VisitID: "visit-2c91", At: now, Took: 57 * time.Microsecond,
			Trace: []access.Verdict{
				{Rule: "lockdown", Pass: true},
				{Rule: "clock", Pass: true, Detail: "trusted"},
				{Rule: "credential", Pass: true, Detail: "known, visit visit-2c91"},
				{Rule: "intercom", Pass: true, Detail: "front is on the visit"},
				{Rule: "window", Pass: true},
				{Rule: "weekday", Pass: true, Detail: "thursday is allowed"},
				{Rule: "daily_window", Pass: false, Detail: "19:26 is outside 08:00-18:00"},
			}},
		Frames: []localapi.WiegandFrame{
			{At: now.Add(-3 * time.Minute), Reader: "wiegand0", Bits: "10000000100000011000000111", Format: "h10301"},
			{At: now.Add(-2 * time.Minute), Reader: "wiegand0", Bits: "0101", Format: "keypad4"},
			{At: now.Add(-time.Minute), Reader: "wiegand0", Bits: "1000000010000001100000011", Error: "25 bits: no format matches"},
		},
		Keypads: []localapi.KeypadStats{{Reader: "keypad0", Port: "/dev/serial/by-id/usb-TD63-if00", Online: true, Frames: 18244, BadCRC: 2, Resyncs: 1, Timeouts: 4, Reconnects: 0, LastHeartbeat: now.Add(-800 * time.Millisecond)}},
		JPEG:    []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00 fake \xff\xd9"),
	}
}
