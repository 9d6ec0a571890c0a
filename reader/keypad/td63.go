package keypad

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// TD63 framing. Every frame, in both directions, is
//
//	STX LEN SEQ TYPE PAYLOAD[LEN] CRC_HI CRC_LO
//
// with STX = 0x02, LEN the payload length (0..MaxPayload), SEQ the sender's
// frame counter (wraps at 255), and CRC the CRC-16/CCITT-FALSE of
// LEN SEQ TYPE PAYLOAD, big-endian. There is no byte stuffing: the parser
// resynchronises on length and CRC. See docs/td63.md.
const (
	STX         byte = 0x02
	MaxPayload       = 32
	HeaderLen        = 4 // STX LEN SEQ TYPE
	CRCLen           = 2
	MaxFrameLen      = HeaderLen + MaxPayload + CRCLen
)

// MsgType is a TD63 message type. Types below 0x80 travel from the keypad to
// the controller, types from 0x80 up from the controller to the keypad.
type MsgType uint8

// Message types.
const (
	MsgKey       MsgType = 0x01 // keypad → controller: one key pressed
	MsgHeartbeat MsgType = 0x02 // keypad → controller: every second
	MsgAck       MsgType = 0x03 // keypad → controller: a command was executed
	MsgLED       MsgType = 0x81 // controller → keypad: set the LED
	MsgBuzzer    MsgType = 0x82 // controller → keypad: beep
	MsgPoll      MsgType = 0x83 // controller → keypad: controller heartbeat, every second
)

func (t MsgType) String() string {
	switch t {
	case MsgKey:
		return "key"
	case MsgHeartbeat:
		return "heartbeat"
	case MsgAck:
		return "ack"
	case MsgLED:
		return "led"
	case MsgBuzzer:
		return "buzzer"
	case MsgPoll:
		return "poll"
	}
	return fmt.Sprintf("type(0x%02x)", uint8(t))
}

// payloadLen is the payload length of each known type.
func (t MsgType) payloadLen() (int, bool) {
	switch t {
	case MsgKey, MsgAck, MsgPoll:
		return 1, true
	case MsgHeartbeat:
		return 7, true
	case MsgLED:
		return 4, true
	case MsgBuzzer:
		return 5, true
	}
	return 0, false
}

// Known reports whether t is a message type this version understands.
func (t MsgType) Known() bool { _, ok := t.payloadLen(); return ok }

var crcTable = func() (t [256]uint16) {
	for i := range t {
		c := uint16(i) << 8
		for range 8 {
			if c&0x8000 != 0 {
				c = c<<1 ^ 0x1021
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// CRC16 returns the CRC-16/CCITT-FALSE of b: polynomial 0x1021, initial value
// 0xFFFF, no reflection, no final XOR. CRC16([]byte("123456789")) == 0x29B1.
func CRC16(b []byte) uint16 {
	c := uint16(0xFFFF)
	for _, x := range b {
		c = c<<8 ^ crcTable[byte(c>>8)^x]
	}
	return c
}

// Frame is one TD63 frame. Payload is owned by the frame.
type Frame struct {
	Seq     uint8
	Type    MsgType
	Payload []byte
}

// ErrPayloadTooLong is returned when encoding a frame whose payload exceeds
// MaxPayload.
var ErrPayloadTooLong = errors.New("keypad: td63 payload longer than 32 bytes")

// Append appends the wire form of f to dst.
func (f Frame) Append(dst []byte) ([]byte, error) {
	if len(f.Payload) > MaxPayload {
		return dst, ErrPayloadTooLong
	}
	start := len(dst)
	dst = append(dst, STX, byte(len(f.Payload)), f.Seq, byte(f.Type))
	dst = append(dst, f.Payload...)
	return binary.BigEndian.AppendUint16(dst, CRC16(dst[start+1:])), nil
}

// Encode returns the wire form of f.
func (f Frame) Encode() ([]byte, error) {
	return f.Append(make([]byte, 0, HeaderLen+len(f.Payload)+CRCLen))
}

func (f Frame) String() string {
	return fmt.Sprintf("%v seq=%d len=%d", f.Type, f.Seq, len(f.Payload))
}

func (f Frame) check(t MsgType) error {
	if f.Type != t {
		return fmt.Errorf("keypad: td63 frame is %v, not %v", f.Type, t)
	}
	if n, _ := t.payloadLen(); len(f.Payload) != n {
		return fmt.Errorf("keypad: td63 %v payload is %d bytes, want %d", t, len(f.Payload), n)
	}
	return nil
}

// KeyFrame returns a key event for key ('0'-'9', '*', '#').
func KeyFrame(seq uint8, key byte) Frame {
	return Frame{Seq: seq, Type: MsgKey, Payload: []byte{key}}
}

// Key returns the key code of a key event.
func (f Frame) Key() (byte, error) {
	if err := f.check(MsgKey); err != nil {
		return 0, err
	}
	return f.Payload[0], nil
}

// Heartbeat is the keypad's periodic status.
type Heartbeat struct {
	FirmwareMajor, FirmwareMinor uint8
	Uptime                       time.Duration // whole seconds on the wire
	Flags                        uint8         // HeartbeatTamper, HeartbeatKeyStuck
}

// Heartbeat flags.
const (
	HeartbeatTamper   uint8 = 1 << 0 // housing opened
	HeartbeatKeyStuck uint8 = 1 << 1 // a key has been held down for more than 10 s
)

// Firmware returns the firmware version as "major.minor".
func (h Heartbeat) Firmware() string {
	return fmt.Sprintf("%d.%d", h.FirmwareMajor, h.FirmwareMinor)
}

// Frame returns h as a heartbeat frame.
func (h Heartbeat) Frame(seq uint8) Frame {
	p := make([]byte, 7)
	p[0], p[1] = h.FirmwareMajor, h.FirmwareMinor
	binary.BigEndian.PutUint32(p[2:], uint32(h.Uptime/time.Second))
	p[6] = h.Flags
	return Frame{Seq: seq, Type: MsgHeartbeat, Payload: p}
}

// Heartbeat decodes a heartbeat frame.
func (f Frame) Heartbeat() (Heartbeat, error) {
	if err := f.check(MsgHeartbeat); err != nil {
		return Heartbeat{}, err
	}
	p := f.Payload
	return Heartbeat{
		FirmwareMajor: p[0], FirmwareMinor: p[1],
		Uptime: time.Duration(binary.BigEndian.Uint32(p[2:])) * time.Second,
		Flags:  p[6],
	}, nil
}

// AckFrame acknowledges the controller frame numbered acked.
func AckFrame(seq, acked uint8) Frame {
	return Frame{Seq: seq, Type: MsgAck, Payload: []byte{acked}}
}

// Ack returns the sequence number an ack acknowledges.
func (f Frame) Ack() (uint8, error) {
	if err := f.check(MsgAck); err != nil {
		return 0, err
	}
	return f.Payload[0], nil
}

// PollFrame is the controller's heartbeat; flags are reserved and sent as 0.
func PollFrame(seq uint8) Frame {
	return Frame{Seq: seq, Type: MsgPoll, Payload: []byte{0}}
}

// Colour is an LED colour.
type Colour uint8

// LED colours.
const (
	Off Colour = iota
	Red
	Green
	Amber
	Blue
)

func (c Colour) String() string {
	switch c {
	case Off:
		return "off"
	case Red:
		return "red"
	case Green:
		return "green"
	case Amber:
		return "amber"
	case Blue:
		return "blue"
	}
	return fmt.Sprintf("colour(%d)", uint8(c))
}

// Pattern is how the LED shows its colour.
type Pattern uint8

// LED patterns.
const (
	Solid     Pattern = iota
	BlinkSlow         // 1 Hz, 50 % duty
	BlinkFast         // 5 Hz, 50 % duty
	Pulse             // 2 Hz, 20 % duty
)

func (p Pattern) String() string {
	switch p {
	case Solid:
		return "solid"
	case BlinkSlow:
		return "blink_slow"
	case BlinkFast:
		return "blink_fast"
	case Pulse:
		return "pulse"
	}
	return fmt.Sprintf("pattern(%d)", uint8(p))
}

// maxMS is the longest duration a 16-bit millisecond field holds.
const maxMS = 65535 * time.Millisecond

func ms(d time.Duration) uint16 {
	d = min(max(d, 0), maxMS)
	return uint16(d / time.Millisecond)
}

// LED is an LED command. Duration 0 means "until the next LED command";
// afterwards the keypad returns to its idle LED (off). Durations are
// clamped to 0..65.535 s, in whole milliseconds.
type LED struct {
	Colour   Colour
	Pattern  Pattern
	Duration time.Duration
}

// Frame returns l as an LED command frame.
func (l LED) Frame(seq uint8) Frame {
	p := []byte{byte(l.Colour), byte(l.Pattern), 0, 0}
	binary.BigEndian.PutUint16(p[2:], ms(l.Duration))
	return Frame{Seq: seq, Type: MsgLED, Payload: p}
}

// LED decodes an LED command.
func (f Frame) LED() (LED, error) {
	if err := f.check(MsgLED); err != nil {
		return LED{}, err
	}
	p := f.Payload
	return LED{Colour: Colour(p[0]), Pattern: Pattern(p[1]),
		Duration: time.Duration(binary.BigEndian.Uint16(p[2:])) * time.Millisecond}, nil
}

// Buzzer is a buzzer command: Count beeps of On, separated by Off.
// Count 0 silences the buzzer. Durations are clamped to 0..65.535 s.
type Buzzer struct {
	Count   uint8
	On, Off time.Duration
}

// Frame returns b as a buzzer command frame.
func (b Buzzer) Frame(seq uint8) Frame {
	p := []byte{b.Count, 0, 0, 0, 0}
	binary.BigEndian.PutUint16(p[1:], ms(b.On))
	binary.BigEndian.PutUint16(p[3:], ms(b.Off))
	return Frame{Seq: seq, Type: MsgBuzzer, Payload: p}
}

// Buzzer decodes a buzzer command.
func (f Frame) Buzzer() (Buzzer, error) {
	if err := f.check(MsgBuzzer); err != nil {
		return Buzzer{}, err
	}
	p := f.Payload
	return Buzzer{Count: p[0],
		On:  time.Duration(binary.BigEndian.Uint16(p[1:])) * time.Millisecond,
		Off: time.Duration(binary.BigEndian.Uint16(p[3:])) * time.Millisecond}, nil
}

// ParserStats counts what a Parser has seen. Every byte fed is either part
// of an accepted frame, counted in Garbage, or still Pending.
type ParserStats struct {
	Bytes       uint64 `json:"bytes"`        // bytes fed
	Frames      uint64 `json:"frames"`       // frames with a good CRC, of any type
	Garbage     uint64 `json:"garbage"`      // bytes discarded while hunting for a frame
	BadCRC      uint64 `json:"bad_crc"`      // candidate frames rejected for their CRC
	BadLength   uint64 `json:"bad_length"`   // candidate frames rejected for LEN > MaxPayload
	Malformed   uint64 `json:"malformed"`    // good CRC, known type, wrong payload length
	UnknownType uint64 `json:"unknown_type"` // good CRC, unknown type (returned; callers skip it)
	Resyncs     uint64 `json:"resyncs"`      // runs of discarded bytes: times sync was lost and hunted for
}

// Parser is a streaming TD63 frame parser. It never panics, holds at most
// 2*MaxFrameLen bytes, and resynchronises after garbage, truncated and
// corrupted frames by rescanning from the byte after a rejected STX. The zero
// value is ready to use. A Parser is not safe for concurrent use.
type Parser struct {
	buf     [2 * MaxFrameLen]byte
	n       int
	hunting bool // inside a run of discarded bytes
	stats   ParserStats
}

// Feed parses b and returns the complete frames it finished, in order: every
// frame with a good CRC except those of a known type with the wrong payload
// length. Frames of unknown types are returned (and counted) so that callers
// can keep track of sequence numbers; they skip them. The error count is the
// number of problems seen in this call: each run of discarded bytes, each
// malformed frame and each frame of unknown type counts one. Returned frames
// do not alias b or the parser's buffer.
func (p *Parser) Feed(b []byte) (frames []Frame, errs int) {
	before := p.stats.Resyncs + p.stats.Malformed + p.stats.UnknownType
	p.stats.Bytes += uint64(len(b))
	for len(b) > 0 {
		k := copy(p.buf[p.n:], b)
		p.n += k
		b = b[k:]
		frames = p.drain(frames)
	}
	return frames, int(p.stats.Resyncs + p.stats.Malformed + p.stats.UnknownType - before)
}

func (p *Parser) drop(k int) {
	if !p.hunting {
		p.hunting = true
		p.stats.Resyncs++
	}
	p.stats.Garbage += uint64(k)
}

func (p *Parser) drain(frames []Frame) []Frame {
	buf := p.buf[:p.n]
	i := 0
	for i < len(buf) {
		if buf[i] != STX {
			p.drop(1)
			i++
			continue
		}
		if len(buf)-i < 2 {
			break
		}
		l := int(buf[i+1])
		if l > MaxPayload {
			p.stats.BadLength++
			p.drop(1)
			i++
			continue
		}
		total := HeaderLen + l + CRCLen
		if len(buf)-i < total {
			break
		}
		body := buf[i+1 : i+HeaderLen+l]
		if CRC16(body) != binary.BigEndian.Uint16(buf[i+HeaderLen+l:]) {
			p.stats.BadCRC++
			p.drop(1)
			i++
			continue
		}
		p.hunting = false
		p.stats.Frames++
		f := Frame{Seq: buf[i+2], Type: MsgType(buf[i+3])}
		i += total
		want, known := f.Type.payloadLen()
		if known && want != l {
			p.stats.Malformed++
			continue
		}
		if !known {
			p.stats.UnknownType++ // returned all the same: newer firmware may send it
		}
		f.Payload = append([]byte(nil), body[3:]...)
		frames = append(frames, f)
	}
	p.n = copy(p.buf[:], buf[i:])
	return frames
}

// Pending returns the number of bytes held for an incomplete frame.
func (p *Parser) Pending() int { return p.n }

// Reset discards a partial frame, counting its bytes as garbage; call it when
// the link is reopened.
func (p *Parser) Reset() {
	if p.n > 0 {
		p.drop(p.n)
		p.n = 0
	}
	p.hunting = false
}

// Stats returns the counters so far.
func (p *Parser) Stats() ParserStats { return p.stats }
