package wiegand

import (
	"errors"
	"testing"
)

// decodeCases are shared by the table test and the fuzz seeds. The bit
// strings were computed by an independent implementation of each layout.
var decodeCases = []struct {
	name   string
	bits   string
	opt    Options
	format Format
	value  string // card value, or "" for keys and errors
	key    uint8
	err    error
}{
	{name: "h10301", bits: "10001001010000000000000100", format: H10301, value: "18:32770"},
	{name: "h10301 zero", bits: "00000000000000000000000001", format: H10301, value: "0:0"},
	{name: "h10301 max", bits: "01111111111111111111111111", format: H10301, value: "255:65535"},
	{name: "h10301 even parity flipped", bits: "00001001010000000000000100", err: ErrParity},
	{name: "h10301 odd parity flipped", bits: "10001001010000000000000101", err: ErrParity},
	{name: "h10301 data bit flipped", bits: "10001001010000000001000100", err: ErrParity},
	{name: "h10306", bits: "1000001001101001011011101110101010", format: H10306, value: "1234:56789"},
	{name: "h10306 parity", bits: "1000001001101001011011101110101011", err: ErrParity},
	{name: "corp1000", bits: "00001111101000000111100010010000001", format: Corp1000, value: "1000:123456"},
	{name: "corp1000 max", bits: "10111111111111111111111111111111110", format: Corp1000, value: "4095:1048575"},
	{name: "corp1000 first parity", bits: "10001111101000000111100010010000001", err: ErrParity},
	{name: "corp1000 second parity", bits: "01001111101000000111100010010000001", err: ErrParity},
	{name: "corp1000 data", bits: "00001111101000000111100010010000101", err: ErrParity},
	{name: "h10304 default", bits: "0000100100011010010010010011111000000", format: H10304, value: "4660:300000"},
	{name: "h10302 preferred", bits: "1010110111111101110000011100001101010", opt: Options{Prefer37: H10302}, format: H10302, value: "0:12345678901"},
	{name: "37 parity", bits: "1010110111111101110000011100001101011", err: ErrParity},
	{name: "key 4-bit 7", bits: "0111", format: Key4, key: 7},
	{name: "key 4-bit hash", bits: "1011", format: Key4, key: KeyHash},
	{name: "key 4-bit star", bits: "1010", format: Key4, key: KeyStar},
	{name: "key 4-bit 12", bits: "1100", err: ErrKey},
	{name: "key 8-bit 5", bits: "10100101", format: Key8, key: 5},
	{name: "key 8-bit hash", bits: "01001011", format: Key8, key: KeyHash},
	{name: "key 8-bit complement", bits: "10110101", err: ErrComplement},
	{name: "key 8-bit 15", bits: "00001111", err: ErrKey},
	{name: "raw 32 with parity", bits: "10000000000000010000000000000001", format: Raw, value: "raw:80010001"},
	{name: "raw 32 bad parity", bits: "00000000000000010000000000000001", err: ErrParity},
	{name: "raw 32 no parity policy", bits: "00000000000000010000000000000001", opt: Options{Raw: RawNoParity}, format: Raw, value: "raw:00010001"},
	{name: "raw refused", bits: "00000000000000010000000000000001", opt: Options{Raw: RawReject}, err: ErrLength},
	{name: "empty", bits: "", err: ErrLength},
	{name: "one bit", bits: "1", err: ErrLength},
	{name: "5 bits", bits: "10101", err: ErrLength},
	{name: "23 bits", bits: "10101010101010101010101", err: ErrLength},
	{name: "65 bits", bits: "10101010101010101010101010101010101010101010101010101010101010101", err: ErrOverflow},
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := ParseBits(tc.bits)
			if err != nil {
				t.Fatal(err)
			}
			got, err := Decode(b, tc.opt)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("Decode(%s) error = %v, want %v", tc.bits, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%s): %v", tc.bits, err)
			}
			if got.Format != tc.format || got.Value() != tc.value || got.Key != tc.key || got.Bits != len(b) {
				t.Errorf("Decode(%s) = %v %q key %d, want %v %q key %d", tc.bits, got.Format, got.Value(), got.Key, tc.format, tc.value, tc.key)
			}
		})
	}
}

func TestEncodeRoundTrip(t *testing.T) {
	cases := []struct {
		f      Format
		fc, cn uint64
		want   string
	}{
		{H10301, 18, 32770, "10001001010000000000000100"},
		{H10306, 1234, 56789, "1000001001101001011011101110101010"},
		{Corp1000, 1000, 123456, "00001111101000000111100010010000001"},
		{Corp1000, 4095, 1048575, "10111111111111111111111111111111110"},
		{H10304, 4660, 300000, "0000100100011010010010010011111000000"},
		{H10302, 0, 12345678901, "1010110111111101110000011100001101010"},
	}
	for _, tc := range cases {
		b, err := Encode(tc.f, tc.fc, tc.cn)
		if err != nil {
			t.Fatalf("Encode(%v, %d, %d): %v", tc.f, tc.fc, tc.cn, err)
		}
		if got := BitString(b); got != tc.want {
			t.Errorf("Encode(%v, %d, %d) = %s, want %s", tc.f, tc.fc, tc.cn, got, tc.want)
		}
		opt := Options{Prefer37: tc.f}
		r, err := Decode(b, opt)
		if err != nil || r.Format != tc.f || r.Facility != tc.fc || r.Number != tc.cn {
			t.Errorf("Decode(Encode(%v, %d, %d)) = %+v, %v", tc.f, tc.fc, tc.cn, r, err)
		}
	}
	if _, err := Encode(H10301, 256, 1); !errors.Is(err, ErrRange) {
		t.Errorf("Encode facility 256 in 26 bits: err = %v, want ErrRange", err)
	}
	if _, err := Encode(H10302, 1, 1); !errors.Is(err, ErrRange) {
		t.Errorf("Encode facility in H10302: err = %v, want ErrRange", err)
	}
	for k := uint8(0); k <= KeyHash; k++ {
		for _, w := range []int{4, 8} {
			b, err := EncodeKey(k, w)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Decode(b, Options{})
			if err != nil || r.Key != k || !r.Format.IsKey() {
				t.Errorf("key %d width %d: %+v, %v", k, w, r, err)
			}
		}
	}
	for _, n := range []int{24, 27, 32, 40, 48, 64} {
		b, err := EncodeRaw(n, 0x5a5a5a&(1<<(n-2)-1), true)
		if err != nil {
			t.Fatal(err)
		}
		if r, err := Decode(b, Options{}); n != 26 && n != 34 && n != 35 && n != 37 && (err != nil || r.Format != Raw) {
			t.Errorf("raw %d bits: %+v, %v", n, r, err)
		}
	}
}

// Every single-bit error in a card frame must be caught by its parity.
func TestDecodeSingleBitErrors(t *testing.T) {
	for _, f := range []Format{H10301, H10306, Corp1000, H10304} {
		b, _ := Encode(f, 77, 4242)
		for i := range b {
			c := append([]bool(nil), b...)
			c[i] = !c[i]
			if r, err := Decode(c, Options{}); err == nil {
				t.Errorf("%v with bit %d flipped decoded as %v", f, i, r.Format)
			}
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add(tc.bits, uint8(tc.opt.Prefer37), uint8(tc.opt.Raw))
	}
	f.Fuzz(func(t *testing.T, s string, prefer, raw uint8) {
		b := make([]bool, len(s))
		for i := range len(s) {
			b[i] = s[i]&1 == 1
		}
		r, err := Decode(b, Options{Prefer37: Format(prefer), Raw: RawPolicy(raw % 3)})
		if err != nil {
			return
		}
		if r.Bits != len(b) {
			t.Fatalf("Bits = %d, want %d", r.Bits, len(b))
		}
		if r.Format.IsKey() {
			if r.Key > KeyHash || r.Value() != "" {
				t.Fatalf("key result %+v", r)
			}
			return
		}
		v := r.Value()
		if v == "" {
			t.Fatalf("card without value: %+v", r)
		}
		if r.Format != Raw {
			// Re-encoding a valid card must give back the same bits.
			e, err := Encode(r.Format, r.Facility, r.Number)
			if err != nil || BitString(e) != BitString(b) {
				t.Fatalf("re-encode %v = %s, %v; want %s", r.Format, BitString(e), err, BitString(b))
			}
		}
	})
}

func TestBitStrings(t *testing.T) {
	if _, err := ParseBits("01x"); err == nil {
		t.Error("ParseBits accepted x")
	}
	b, _ := ParseBits("0110")
	if BitString(b) != "0110" {
		t.Errorf("round trip = %s", BitString(b))
	}
	for f := FormatUnknown; f <= Key8; f++ {
		g, err := ParseFormat(f.String())
		if err != nil || g != f {
			t.Errorf("ParseFormat(%v) = %v, %v", f, g, err)
		}
	}
}
