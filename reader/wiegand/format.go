package wiegand

import (
	"errors"
	"fmt"
	"math/bits"
	"strings"
)

// Format is a Wiegand frame layout.
type Format uint8

// Frame formats. Key4 and Key8 are keypad bursts, not cards.
const (
	FormatUnknown Format = iota
	H10301               // 26-bit: P, 8-bit facility, 16-bit card, P
	H10306               // 34-bit: P, 16-bit facility, 16-bit card, P
	Corp1000             // 35-bit HID Corporate 1000: P P, 12-bit company, 20-bit card, P
	H10302               // 37-bit: P, 35-bit card, P (no facility)
	H10304               // 37-bit: P, 16-bit facility, 19-bit card, P
	Raw                  // any other length from MinRawBits to MaxBits
	Key4                 // 4-bit keypad burst
	Key8                 // 8-bit keypad burst, high nibble the complement of the low one
)

var formatNames = [...]string{"unknown", "h10301", "h10306", "corp1000", "h10302", "h10304", "raw", "key4", "key8"}

func (f Format) String() string {
	if int(f) < len(formatNames) {
		return formatNames[f]
	}
	return fmt.Sprintf("format(%d)", uint8(f))
}

// ParseFormat returns the format named s, as printed by String.
func ParseFormat(s string) (Format, error) {
	for i, n := range formatNames {
		if n == s {
			return Format(i), nil
		}
	}
	return FormatUnknown, fmt.Errorf("wiegand: unknown format %q", s)
}

// IsKey reports whether f is a keypad burst.
func (f Format) IsKey() bool { return f == Key4 || f == Key8 }

// Frame length limits.
const (
	MaxBits    = 64 // longer frames are noise or an unsupported reader
	MinRawBits = 24 // shorter frames that are not key bursts are noise
)

// Sentinel errors of Decode; match them with errors.Is.
var (
	ErrLength     = errors.New("wiegand: impossible bit count")
	ErrParity     = errors.New("wiegand: parity error")
	ErrComplement = errors.New("wiegand: key complement check failed")
	ErrKey        = errors.New("wiegand: key code out of range")
	ErrNoise      = errors.New("wiegand: noise on the lines")
	ErrOverflow   = errors.New("wiegand: frame longer than the maximum")
	ErrRange      = errors.New("wiegand: value does not fit the format")
)

// RawPolicy says what Decode does with frames of a length that has no known
// format.
type RawPolicy uint8

// Raw policies. The zero value checks the generic parity layout that most
// readers use for odd lengths: a leading even parity bit over the first half
// of the data bits and a trailing odd parity bit over the second half (for an
// odd number of data bits the middle bit counts in both halves, as in H10302).
const (
	RawParity RawPolicy = iota
	RawNoParity
	RawReject
)

func (p RawPolicy) String() string {
	switch p {
	case RawParity:
		return "parity"
	case RawNoParity:
		return "no_parity"
	case RawReject:
		return "reject"
	}
	return fmt.Sprintf("raw_policy(%d)", uint8(p))
}

// Options tune Decode. The zero value is the documented default.
type Options struct {
	// Prefer37 picks the layout of 37-bit frames: H10302 and H10304 share
	// their length and parity layout, so the bits cannot tell them apart.
	// Zero means H10304 (facility + card), which sites that issue their own
	// cards use; set H10302 for readers programmed with it.
	Prefer37 Format
	// Raw is the policy for lengths without a known format.
	Raw RawPolicy
}

// Key codes of keypad bursts: 0-9 are digits.
const (
	KeyStar  = 10 // clears the entry
	KeyHash  = 11 // submits the entry
	maxKeyID = 11
)

// Result is a decoded frame.
type Result struct {
	Format   Format
	Bits     int    // frame length
	Facility uint64 // facility or company code; zero for H10302 and raw
	Number   uint64 // card number; for raw frames the whole frame
	Key      uint8  // the key of a keypad burst: 0-9, KeyStar, KeyHash
}

// Value is the card credential value in access.Normalize form:
// "FACILITY:NUMBER" ("0:NUMBER" for H10302, which has no facility), or
// "raw:HEX" for raw frames, the whole frame in ceil(bits/4) hex digits. It is
// empty for keypad bursts.
func (r Result) Value() string {
	switch {
	case r.Format.IsKey() || r.Format == FormatUnknown:
		return ""
	case r.Format == Raw:
		return fmt.Sprintf("raw:%0*x", (r.Bits+3)/4, r.Number)
	}
	return fmt.Sprintf("%d:%d", r.Facility, r.Number)
}

// String describes the result without the card number, for logs.
func (r Result) String() string {
	if r.Format.IsKey() {
		return fmt.Sprintf("%v key", r.Format)
	}
	return fmt.Sprintf("%v %d bits", r.Format, r.Bits)
}

// pack turns an MSB-first bit slice into an integer. len(b) <= 64.
func pack(b []bool) uint64 {
	var v uint64
	for _, x := range b {
		v <<= 1
		if x {
			v |= 1
		}
	}
	return v
}

// unpack is the inverse of pack.
func unpack(v uint64, n int) []bool {
	b := make([]bool, n)
	for i := range n {
		b[i] = v>>(n-1-i)&1 == 1
	}
	return b
}

// field returns n bits starting at MSB-first position pos of an l-bit frame.
func field(v uint64, l, pos, n int) uint64 {
	return v >> (l - pos - n) & (1<<n - 1)
}

func ones(v uint64) int { return bits.OnesCount64(v) }

// halves is the generic leading-even/trailing-odd parity layout of an l-bit
// frame: the masks of data bits covered by the even (first) and odd (last)
// parity bit. With an odd number of data bits the middle one is in both.
func halves(l int) (even, odd uint64) {
	d := l - 2
	h := (d + 1) / 2
	for pos := 1; pos <= h; pos++ {
		even |= 1 << (l - 1 - pos)
	}
	for pos := l - 1 - h; pos <= l-2; pos++ {
		odd |= 1 << (l - 1 - pos)
	}
	return even, odd
}

// checkHalves verifies the leading-even/trailing-odd layout.
func checkHalves(v uint64, l int) bool {
	even, odd := halves(l)
	first := v >> (l - 1) & 1
	last := v & 1
	return (ones(v&even)+int(first))%2 == 0 && (ones(v&odd)+int(last))%2 == 1
}

// setHalves sets the two parity bits of the generic layout on v.
func setHalves(v uint64, l int) uint64 {
	even, odd := halves(l)
	v &^= 1<<(l-1) | 1
	if ones(v&even)%2 == 1 {
		v |= 1 << (l - 1)
	}
	if ones(v&odd)%2 == 0 {
		v |= 1
	}
	return v
}

// Corporate 1000 parity masks over the 35-bit frame value (bit 34 first on
// the wire): bit 33 is even parity over c1kEven, bit 0 odd parity over
// c1kOdd (which includes bit 33), bit 34 odd parity over all other bits.
const (
	c1kEven = 1<<32 | 0xB6DB6DB6
	c1kOdd  = 3<<32 | 0x6DB6DB6C
	c1kAll  = 1<<34 - 1
)

func checkC1k(v uint64) bool {
	return (ones(v&c1kEven)+int(v>>33&1))%2 == 0 &&
		(ones(v&c1kOdd)+int(v&1))%2 == 1 &&
		(ones(v&c1kAll)+int(v>>34&1))%2 == 1
}

func setC1k(v uint64) uint64 {
	v &^= 1<<34 | 1<<33 | 1
	if ones(v&c1kEven)%2 == 1 {
		v |= 1 << 33
	}
	if ones(v&c1kOdd)%2 == 0 {
		v |= 1
	}
	if ones(v&c1kAll)%2 == 0 {
		v |= 1 << 34
	}
	return v
}

// Decode decodes one frame, first bit first. It never panics; a frame it
// cannot accept gives an error wrapping one of the sentinels above.
func Decode(b []bool, opt Options) (Result, error) {
	l := len(b)
	if l > MaxBits {
		return Result{Bits: l}, fmt.Errorf("%w: %d bits", ErrOverflow, l)
	}
	v := pack(b)
	r := Result{Bits: l}
	switch l {
	case 4:
		r.Format, r.Key = Key4, uint8(v)
	case 8:
		if (v>>4)^0xF != v&0xF {
			return r, fmt.Errorf("%w: 8-bit burst", ErrComplement) // never the bits: they are a PIN digit
		}
		r.Format, r.Key = Key8, uint8(v&0xF)
	case 26:
		if !checkHalves(v, l) {
			return r, fmt.Errorf("%w: %d-bit frame", ErrParity, l)
		}
		r.Format, r.Facility, r.Number = H10301, field(v, l, 1, 8), field(v, l, 9, 16)
	case 34:
		if !checkHalves(v, l) {
			return r, fmt.Errorf("%w: %d-bit frame", ErrParity, l)
		}
		r.Format, r.Facility, r.Number = H10306, field(v, l, 1, 16), field(v, l, 17, 16)
	case 35:
		if !checkC1k(v) {
			return r, fmt.Errorf("%w: %d-bit frame", ErrParity, l)
		}
		r.Format, r.Facility, r.Number = Corp1000, field(v, l, 2, 12), field(v, l, 14, 20)
	case 37:
		if !checkHalves(v, l) {
			return r, fmt.Errorf("%w: %d-bit frame", ErrParity, l)
		}
		if opt.Prefer37 == H10302 {
			r.Format, r.Number = H10302, field(v, l, 1, 35)
		} else {
			r.Format, r.Facility, r.Number = H10304, field(v, l, 1, 16), field(v, l, 17, 19)
		}
	default:
		if l < MinRawBits || opt.Raw == RawReject {
			return r, fmt.Errorf("%w: %d bits", ErrLength, l)
		}
		if opt.Raw == RawParity && !checkHalves(v, l) {
			return r, fmt.Errorf("%w: raw %d-bit frame", ErrParity, l)
		}
		r.Format, r.Number = Raw, v
	}
	if r.Format.IsKey() && r.Key > maxKeyID {
		return Result{Bits: l}, fmt.Errorf("%w: %d", ErrKey, r.Key)
	}
	return r, nil
}

// Encode builds the frame of a card, with its parity bits. Raw frames are
// built by EncodeRaw.
func Encode(f Format, facility, number uint64) ([]bool, error) {
	chk := func(x uint64, n int, what string) error {
		if x >= 1<<n {
			return fmt.Errorf("%w: %v %s %d needs more than %d bits", ErrRange, f, what, x, n)
		}
		return nil
	}
	var l int
	var v uint64
	switch f {
	case H10301:
		if err := errors.Join(chk(facility, 8, "facility"), chk(number, 16, "number")); err != nil {
			return nil, err
		}
		l, v = 26, facility<<17|number<<1
	case H10306:
		if err := errors.Join(chk(facility, 16, "facility"), chk(number, 16, "number")); err != nil {
			return nil, err
		}
		l, v = 34, facility<<17|number<<1
	case Corp1000:
		if err := errors.Join(chk(facility, 12, "company"), chk(number, 20, "number")); err != nil {
			return nil, err
		}
		return unpack(setC1k(facility<<21|number<<1), 35), nil
	case H10302:
		if err := errors.Join(chk(facility, 0, "facility"), chk(number, 35, "number")); err != nil {
			return nil, err
		}
		l, v = 37, number<<1
	case H10304:
		if err := errors.Join(chk(facility, 16, "facility"), chk(number, 19, "number")); err != nil {
			return nil, err
		}
		l, v = 37, facility<<20|number<<1
	default:
		return nil, fmt.Errorf("wiegand: encode: %v is not a card format", f)
	}
	return unpack(setHalves(v, l), l), nil
}

// EncodeRaw builds an n-bit frame whose data bits (all but the first and the
// last) are data, with the generic parity bits set when parity is true.
func EncodeRaw(n int, data uint64, parity bool) ([]bool, error) {
	if n < 3 || n > MaxBits {
		return nil, fmt.Errorf("%w: raw %d bits", ErrLength, n)
	}
	if n-2 < 64 && data >= 1<<(n-2) {
		return nil, fmt.Errorf("%w: raw data needs more than %d bits", ErrRange, n-2)
	}
	v := data << 1
	if parity {
		v = setHalves(v, n)
	}
	return unpack(v, n), nil
}

// EncodeKey builds the burst of one key (0-9, KeyStar, KeyHash) in 4 or 8
// bits.
func EncodeKey(key uint8, width int) ([]bool, error) {
	if key > maxKeyID {
		return nil, fmt.Errorf("%w: %d", ErrKey, key)
	}
	switch width {
	case 4:
		return unpack(uint64(key), 4), nil
	case 8:
		return unpack(uint64(^key&0xF)<<4|uint64(key), 8), nil
	}
	return nil, fmt.Errorf("%w: key width %d", ErrLength, width)
}

// BitString renders bits as "0101...", the form of transcripts and of
// `intercomctl wiegand last`.
func BitString(b []bool) string {
	var s strings.Builder
	s.Grow(len(b))
	for _, x := range b {
		if x {
			s.WriteByte('1')
		} else {
			s.WriteByte('0')
		}
	}
	return s.String()
}

// ParseBits is the inverse of BitString.
func ParseBits(s string) ([]bool, error) {
	b := make([]bool, len(s))
	for i := range len(s) {
		switch s[i] {
		case '0':
		case '1':
			b[i] = true
		default:
			return nil, fmt.Errorf("wiegand: bit string has %q at %d", s[i], i)
		}
	}
	return b, nil
}
