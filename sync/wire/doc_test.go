package wire

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestProtocolExamples decodes every ```json block of docs/protocol.md with
// the decoder its info string names, re-encodes it, and checks that nothing
// was lost or added: a field the document shows but the code does not know
// (or the reverse) fails here.
func TestProtocolExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/protocol.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```json([^\n]*)\n(.*?)```").FindAllSubmatch(doc, -1)
	seen := map[string]bool{}
	for i, b := range blocks {
		typ := strings.TrimSpace(string(b[1]))
		m := newMessage(typ)
		if m == nil {
			t.Errorf("example %d: info string %q names no message type", i, typ)
			continue
		}
		seen[typ] = true
		if err := Decode(b[2], m); err != nil {
			t.Errorf("example %d (%s): %v", i, typ, err)
			continue
		}
		out, err := Encode(m)
		if err != nil {
			t.Errorf("example %d (%s): encode: %v", i, typ, err)
			continue
		}
		var want, got any
		if err := json.Unmarshal(b[2], &want); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(want, got) {
			t.Errorf("example %d (%s) does not round-trip:\n doc:  %s\n code: %s", i, typ, compact(b[2]), out)
		}
	}
	for _, typ := range []string{"delta", "head", "snapshot", "snapshot_request", "command", "result", "events", "status", "plate", "face"} {
		if !seen[typ] {
			t.Errorf("docs/protocol.md has no example of %s", typ)
		}
	}
}

func compact(b []byte) string {
	var v any
	_ = json.Unmarshal(b, &v)
	out, _ := json.Marshal(v)
	return string(out)
}
