package keypad

import (
	"bytes"
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// crcBitwise is an independent, bit-at-a-time CRC-16/CCITT-FALSE.
func crcBitwise(b []byte) uint16 {
	c := uint16(0xFFFF)
	for _, x := range b {
		c ^= uint16(x) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
	}
	return c
}

func TestCRC16(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want uint16
	}{
		{[]byte("123456789"), 0x29B1}, // the CRC catalogue's check value
		{nil, 0xFFFF},
		{[]byte{0x01, 0x00, 0x01, 0x31}, 0xE737},
		{[]byte{0x05, 0x13, 0x82, 0x03, 0x00, 0x64, 0x00, 0x64}, 0x4C42},
	} {
		if got := CRC16(tc.in); got != tc.want {
			t.Errorf("CRC16(%x) = %04X, want %04X", tc.in, got, tc.want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		b := make([]byte, r.IntN(64))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if got, want := CRC16(b), crcBitwise(b); got != want {
			t.Fatalf("CRC16(%x) = %04X, bitwise %04X", b, got, want)
		}
	}
}

var encodeCases = []struct {
	name  string
	frame Frame
	hex   string
}{
	{"key 1", KeyFrame(0, '1'), "02 01 00 01 31 E7 37"},
	{"key #", KeyFrame(7, '#'), "02 01 07 01 23 50 D4"},
	{"heartbeat 1.4 up 1h2m3s", Heartbeat{1, 4, 3723 * time.Second, 0}.Frame(9), "02 07 09 02 01 04 00 00 0E 8B 00 D2 1A"},
	{"ack", AckFrame(3, 0x10), "02 01 03 03 10 EC 46"},
	{"grant led", FeedbackGrant.LED.Frame(0x10), "02 04 10 81 02 00 0B B8 B5 4C"},
	{"grant buzzer", FeedbackGrant.Buzzer.Frame(0x11), "02 05 11 82 01 00 96 00 00 C9 32"},
	{"deny led", FeedbackDeny.LED.Frame(0x12), "02 04 12 81 01 00 07 D0 0D 13"},
	{"deny buzzer", FeedbackDeny.Buzzer.Frame(0x13), "02 05 13 82 03 00 64 00 64 4C 42"},
	{"lockout led", FeedbackLockout.LED.Frame(0x14), "02 04 14 81 01 02 13 88 FA D8"},
	{"lockout buzzer", FeedbackLockout.Buzzer.Frame(0x15), "02 05 15 82 01 03 E8 00 00 50 21"},
	{"discard led", FeedbackDiscard.LED.Frame(0x16), "02 04 16 81 03 00 03 E8 9D 45"},
	{"discard buzzer", FeedbackDiscard.Buzzer.Frame(0x17), "02 05 17 82 02 00 32 00 32 F1 88"},
	{"poll", PollFrame(0x20), "02 01 20 83 00 3A 79"},
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestFrameEncode(t *testing.T) {
	for _, tc := range encodeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.frame.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if want := unhex(t, tc.hex); !bytes.Equal(got, want) {
				t.Fatalf("Encode() = % X, want % X", got, want)
			}
			var p Parser
			frames, errs := p.Feed(got)
			if errs != 0 || len(frames) != 1 || !frameEqual(frames[0], tc.frame) {
				t.Fatalf("parse back: %v (errs %d), want %v", frames, errs, tc.frame)
			}
		})
	}
}

func TestTypedPayloads(t *testing.T) {
	hb := Heartbeat{2, 17, 49 * 24 * time.Hour, HeartbeatTamper}
	if got, err := hb.Frame(1).Heartbeat(); err != nil || got != hb || got.Firmware() != "2.17" {
		t.Errorf("heartbeat round trip = %+v, %v", got, err)
	}
	led := LED{Amber, Pulse, 1500 * time.Millisecond}
	if got, err := led.Frame(1).LED(); err != nil || got != led {
		t.Errorf("led round trip = %+v, %v", got, err)
	}
	long := LED{Red, Solid, time.Hour}
	if got, _ := long.Frame(1).LED(); got.Duration != 65535*time.Millisecond {
		t.Errorf("an hour-long LED clamps to %v, want 65.535s", got.Duration)
	}
	bz := Buzzer{4, 80 * time.Millisecond, 120 * time.Millisecond}
	if got, err := bz.Frame(1).Buzzer(); err != nil || got != bz {
		t.Errorf("buzzer round trip = %+v, %v", got, err)
	}
	if _, err := KeyFrame(1, '5').LED(); err == nil {
		t.Error("LED() of a key frame: no error")
	}
	if _, err := (Frame{Type: MsgKey, Payload: []byte{1, 2}}).Key(); err == nil {
		t.Error("Key() of a 2-byte key payload: no error")
	}
	if _, err := (Frame{Type: MsgKey, Payload: make([]byte, 33)}).Encode(); err != ErrPayloadTooLong {
		t.Errorf("Encode(33-byte payload) error = %v, want ErrPayloadTooLong", err)
	}
	for _, s := range []interface{ String() string }{MsgType(0x44), Colour(9), Pattern(9), MsgLED, Blue, BlinkSlow} {
		if s.String() == "" {
			t.Errorf("%#v has an empty String()", s)
		}
	}
}

func frameEqual(a, b Frame) bool {
	return a.Seq == b.Seq && a.Type == b.Type && bytes.Equal(a.Payload, b.Payload)
}

func enc(t testing.TB, fs ...Frame) []byte {
	t.Helper()
	var b []byte
	for _, f := range fs {
		var err error
		if b, err = f.Append(b); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

func cat(parts ...[]byte) []byte { return slices.Concat(parts...) }

func corrupt(b []byte, i int) []byte {
	b = slices.Clone(b)
	b[i] ^= 0x40
	return b
}

type parserCase struct {
	name    string
	in      []byte
	want    []Frame
	stats   ParserStats // Bytes is filled in by the test
	pending int
}

func parserCases(t testing.TB) []parserCase {
	k1, kh := KeyFrame(0, '1'), KeyFrame(7, '#')
	hb := Heartbeat{1, 4, 10 * time.Second, 0}.Frame(1)
	return []parserCase{
		{"one key", enc(t, k1), []Frame{k1}, ParserStats{Frames: 1}, 0},
		{"garbage before", cat([]byte{0xFF, 0x00, 0x55}, enc(t, k1)), []Frame{k1}, ParserStats{Frames: 1, Garbage: 3, Resyncs: 1}, 0},
		{"bad crc then good", cat(corrupt(enc(t, k1), 6), enc(t, kh)), []Frame{kh}, ParserStats{Frames: 1, Garbage: 7, BadCRC: 1, Resyncs: 1}, 0},
		// The heartbeat type byte is 0x02 too: it is a second STX candidate.
		{"corrupt payload", cat(corrupt(enc(t, hb), 6), enc(t, k1)), []Frame{k1}, ParserStats{Frames: 1, Garbage: 13, BadCRC: 2, Resyncs: 1}, 0},
		{"bad length", cat([]byte{STX, 0xFF}, enc(t, k1)), []Frame{k1}, ParserStats{Frames: 1, Garbage: 2, BadLength: 1, Resyncs: 1}, 0},
		{"truncated then good", cat(enc(t, k1)[:4], enc(t, kh)), []Frame{kh}, ParserStats{Frames: 1, Garbage: 4, BadCRC: 1, Resyncs: 1}, 0},
		{"stx as key code", enc(t, KeyFrame(3, STX)), []Frame{KeyFrame(3, STX)}, ParserStats{Frames: 1}, 0},
		{"unknown type returned", cat(enc(t, Frame{Seq: 1, Type: 0x44, Payload: []byte{1, 2}}), enc(t, k1)), []Frame{{Seq: 1, Type: 0x44, Payload: []byte{1, 2}}, k1}, ParserStats{Frames: 2, UnknownType: 1}, 0},
		{"malformed key", cat(enc(t, Frame{Seq: 1, Type: MsgKey, Payload: []byte{'1', '2'}}), enc(t, kh)), []Frame{kh}, ParserStats{Frames: 2, Malformed: 1}, 0},
		{"incomplete pending", enc(t, hb)[:5], nil, ParserStats{}, 5},
		{"lone stx pending", cat(enc(t, k1), []byte{STX}), []Frame{k1}, ParserStats{Frames: 1}, 1},
		{"two garbage runs", cat([]byte{1}, enc(t, k1), []byte{3, 4}, enc(t, hb, kh)), []Frame{k1, hb, kh}, ParserStats{Frames: 3, Garbage: 3, Resyncs: 2}, 0},
		{"only garbage", bytes.Repeat([]byte{0x55, STX, 0x40}, 30), nil, ParserStats{Garbage: 90, BadLength: 30, Resyncs: 1}, 0},
		{"max payload unknown", enc(t, Frame{Seq: 9, Type: 0x7E, Payload: bytes.Repeat([]byte{STX}, MaxPayload)}), []Frame{{Seq: 9, Type: 0x7E, Payload: bytes.Repeat([]byte{STX}, MaxPayload)}}, ParserStats{Frames: 1, UnknownType: 1}, 0},
	}
}

func feedChunks(p *Parser, in []byte, sizes func() int) []Frame {
	var out []Frame
	for len(in) > 0 {
		n := min(max(sizes(), 1), len(in))
		fs, _ := p.Feed(in[:n])
		out = append(out, fs...)
		in = in[n:]
	}
	return out
}

func TestParser(t *testing.T) {
	for _, tc := range parserCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			tc.stats.Bytes = uint64(len(tc.in))
			r := rand.New(rand.NewPCG(uint64(len(tc.in)), 7))
			splits := map[string]func() int{
				"whole":        func() int { return len(tc.in) },
				"byte by byte": func() int { return 1 },
				"random":       func() int { return 1 + r.IntN(9) },
			}
			for how, sizes := range splits {
				var p Parser
				got := feedChunks(&p, tc.in, sizes)
				if !slices.EqualFunc(got, tc.want, frameEqual) {
					t.Errorf("%s: frames = %v, want %v", how, got, tc.want)
				}
				if st := p.Stats(); st != tc.stats {
					t.Errorf("%s: stats = %+v, want %+v", how, st, tc.stats)
				}
				if p.Pending() != tc.pending {
					t.Errorf("%s: pending = %d, want %d", how, p.Pending(), tc.pending)
				}
			}
		})
	}
}

func TestParserFeedErrorCount(t *testing.T) {
	var p Parser
	in := cat([]byte{9, 9}, enc(t, KeyFrame(0, '1')), corrupt(enc(t, KeyFrame(1, '2')), 5), enc(t, Frame{Type: 0x55}), enc(t, KeyFrame(2, '3')))
	frames, errs := p.Feed(in)
	// one garbage run, one rejected frame (a second run), one unknown type
	if len(frames) != 3 || errs != 3 {
		t.Fatalf("Feed = %d frames, %d errors; want 3, 3", len(frames), errs)
	}
}

func TestParserReset(t *testing.T) {
	var p Parser
	p.Feed(enc(t, KeyFrame(0, '1'))[:5])
	p.Reset()
	frames, _ := p.Feed(enc(t, KeyFrame(1, '2')))
	if len(frames) != 1 || p.Stats().Garbage != 5 || p.Pending() != 0 {
		t.Fatalf("after Reset: frames %v, stats %+v, pending %d", frames, p.Stats(), p.Pending())
	}
}

func TestParserDoesNotAlias(t *testing.T) {
	var p Parser
	in := enc(t, KeyFrame(0, '7'))
	frames, _ := p.Feed(in)
	in[4] = 'X'
	p.Feed(enc(t, KeyFrame(1, '8')))
	if k, _ := frames[0].Key(); k != '7' {
		t.Fatalf("frame payload changed to %q after the input and buffer were reused", k)
	}
}

// checkParse asserts the parser's invariants on in, fed whole and in chunks.
func checkParse(t *testing.T, in []byte, chunk int) {
	var whole Parser
	frames, _ := whole.Feed(in)
	st := whole.Stats()
	var consumed uint64
	for _, f := range frames {
		consumed += uint64(HeaderLen + len(f.Payload) + CRCLen)
	}
	// Frames with a bad payload length consumed bytes too.
	if st.Garbage+uint64(whole.Pending()) > st.Bytes || st.Bytes != uint64(len(in)) {
		t.Fatalf("byte accounting: %+v pending %d for %d bytes", st, whole.Pending(), len(in))
	}
	if st.Malformed == 0 && st.Garbage+consumed+uint64(whole.Pending()) != st.Bytes {
		t.Fatalf("byte accounting: garbage %d + frames %d + pending %d != %d", st.Garbage, consumed, whole.Pending(), st.Bytes)
	}
	if whole.Pending() >= MaxFrameLen {
		t.Fatalf("pending %d bytes, more than one frame", whole.Pending())
	}
	var chunked Parser
	got := feedChunks(&chunked, in, func() int { return chunk })
	if !slices.EqualFunc(got, frames, frameEqual) || chunked.Stats() != st {
		t.Fatalf("chunks of %d: %v %+v; whole: %v %+v", chunk, got, chunked.Stats(), frames, st)
	}
	// Re-encoding parsed frames round-trips, alone and all together.
	var all []byte
	unknown := 0
	for _, f := range frames {
		wantErrs := 0 // a frame of unknown type is returned and counted as an error
		if !f.Type.Known() {
			wantErrs = 1
			unknown++
		}
		b, err := f.Encode()
		if err != nil {
			t.Fatalf("re-encode %v: %v", f, err)
		}
		var p Parser
		again, errs := p.Feed(b)
		if errs != wantErrs || len(again) != 1 || !frameEqual(again[0], f) {
			t.Fatalf("re-parse of %v = %v (errs %d)", f, again, errs)
		}
		all = append(all, b...)
	}
	var p Parser
	if again, errs := p.Feed(all); errs != unknown || !slices.EqualFunc(again, frames, frameEqual) {
		t.Fatalf("re-parse of all frames = %v (errs %d), want %v", again, errs, frames)
	}
}

func FuzzParser(f *testing.F) {
	for _, tc := range parserCases(f) {
		f.Add(tc.in, uint8(1))
		f.Add(tc.in, uint8(5))
	}
	for _, tc := range encodeCases {
		b, _ := tc.frame.Encode()
		f.Add(b, uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		checkParse(t, in, int(chunk%64)+1)
	})
}
