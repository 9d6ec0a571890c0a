package wire

import "testing"

// fuzzDecoder checks, for one message type, that no input crashes Decode and
// that whatever decodes re-encodes to a message that decodes the same.
func fuzzDecoder(f *testing.F, typ string) {
	for _, c := range decodeCases {
		if c.typ == typ {
			f.Add([]byte(c.in))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := newMessage(typ)
		if err := Decode(b, m); err != nil {
			if Class(err) == "other" {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		roundTrip(t, m, typ)
	})
}

func FuzzDelta(f *testing.F)           { fuzzDecoder(f, "delta") }
func FuzzHead(f *testing.F)            { fuzzDecoder(f, "head") }
func FuzzSnapshotChunk(f *testing.F)   { fuzzDecoder(f, "snapshot") }
func FuzzSnapshotRequest(f *testing.F) { fuzzDecoder(f, "snapshot_request") }
func FuzzCommand(f *testing.F)         { fuzzDecoder(f, "command") }
func FuzzResult(f *testing.F)          { fuzzDecoder(f, "result") }
func FuzzEventBatch(f *testing.F)      { fuzzDecoder(f, "events") }
func FuzzStatus(f *testing.F)          { fuzzDecoder(f, "status") }
func FuzzPlateRead(f *testing.F)       { fuzzDecoder(f, "plate") }
func FuzzFaceRead(f *testing.F)        { fuzzDecoder(f, "face") }

func FuzzCheckEvent(f *testing.F) {
	f.Add([]byte(`{"id":"0123456789abcdef0123456789abcdef","type":"access.granted","at":"2026-12-03T10:00:00Z"}`))
	f.Add([]byte(`["x"]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if CheckEvent(b) != nil {
			return
		}
		var got EventBatch
		if err := Decode(AppendBatch(nil, "d", [][]byte{b}), &got); err != nil {
			t.Fatalf("a checked event does not make a valid batch: %v", err)
		}
	})
}

func FuzzParseTopic(f *testing.F) {
	for tp := TopicDelta; tp <= TopicFace; tp++ {
		f.Add(tp.Name("door-1"))
	}
	f.Add("intercom/x/y/z")
	f.Fuzz(func(t *testing.T, s string) {
		dev, tp, err := ParseTopic(s)
		if err != nil {
			return
		}
		if tp.Name(dev) != s {
			t.Fatalf("ParseTopic(%q) = %q, %v, which names %q", s, dev, tp, tp.Name(dev))
		}
	})
}

func FuzzParseDaily(f *testing.F) {
	for _, s := range []string{"", "09:00-17:00", "22:00-06:30", "00:00-24:00", "24:00-01:00", "9:00-17:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		from, to, err := ParseDaily(s)
		if err != nil {
			return
		}
		if from < 0 || from > 1439 || to < 0 || to > 1440 {
			t.Fatalf("ParseDaily(%q) = %d, %d out of range", s, from, to)
		}
		if s != "" && FormatDaily(from, to) != s {
			t.Fatalf("ParseDaily(%q) does not round-trip: %q", s, FormatDaily(from, to))
		}
	})
}
