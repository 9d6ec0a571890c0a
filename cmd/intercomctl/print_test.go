package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/intercomd/intercomd/access"
	"github.com/intercomd/intercomd/localapi"
)

// TestNoTerminalInjection: text the daemon relays from devices or the cloud
// is printed without control characters.
func TestNoTerminalInjection(t *testing.T) {
	evil := "boom\x1b[2J\x1b[31mgranted\r\n2026 access.granted\u009b"
	var out bytes.Buffer
	if err := printStatus(&out, localapi.Status{
		Readers: []localapi.ReaderHealth{{ID: "r", Detail: evil}},
		Sync:    localapi.SyncStatus{Error: evil},
	}); err != nil {
		t.Fatal(err)
	}
	out.WriteString(eventLine(access.Event{Type: access.EventReaderError, Detail: evil}))
	if err := printFrames(&out, []localapi.WiegandFrame{{Bits: "01", Error: evil}}); err != nil {
		t.Fatal(err)
	}
	if err := printExplanation(&out, localapi.Explanation{Trace: []access.Verdict{{Rule: "x", Detail: evil}}}); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.ContainsAny(line, "\x1b\r\u009b") || strings.HasPrefix(line, "2026 access.granted") {
			t.Errorf("control characters reach the terminal: %q", line)
		}
	}
	if !strings.Contains(out.String(), "boom?[2J?[31mgranted??2026") {
		t.Errorf("detail not shown with ? for control characters:\n%s", out.String())
	}
}
