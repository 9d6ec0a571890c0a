package qr

import (
	"errors"
	"strings"
	"testing"

	"github.com/intercomd/intercomd/access"
)

var payloadCases = []struct {
	name, in, token string
}{
	{"valid", "VK1:5f7ec96310e568979aa5e5083575247c", "5f7ec96310e568979aa5e5083575247c"},
	{"all digits", "VK1:01234567890123456789012345678901", "01234567890123456789012345678901"},
	{"upper hex", "VK1:5F7EC96310E568979AA5E5083575247C", ""},
	{"short", "VK1:5f7ec96310e568979aa5e5083575247", ""},
	{"long", "VK1:5f7ec96310e568979aa5e5083575247cc", ""},
	{"no prefix", "5f7ec96310e568979aa5e5083575247c", ""},
	{"other version", "VK2:5f7ec96310e568979aa5e5083575247c", ""},
	{"lower prefix", "vk1:5f7ec96310e568979aa5e5083575247c", ""},
	{"url", "https://example.com/?k=5f7ec96310e568979aa5e5083575247c", ""},
	{"trailing newline", "VK1:5f7ec96310e568979aa5e5083575247c\n", ""},
	{"leading space", " VK1:5f7ec96310e568979aa5e5083575247c", ""},
	{"non hex", "VK1:5f7ec96310e568979aa5e5083575247g", ""},
	{"empty", "", ""},
	{"prefix only", "VK1:", ""},
	{"utf8", "VK1:5f7ec96310e568979aa5e50835752é", ""},
}

func TestParsePayload(t *testing.T) {
	for _, tc := range payloadCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParsePayload(tc.in)
			if tc.token == "" {
				if err == nil || !errors.Is(err, ErrNotVisitKey) {
					t.Fatalf("ParsePayload(%q) = %q, %v; want ErrNotVisitKey", tc.in, got, err)
				}
				if strings.Contains(err.Error(), tc.in) && tc.in != "" {
					t.Errorf("error %q quotes the payload", err)
				}
				return
			}
			if err != nil || got != tc.token {
				t.Fatalf("ParsePayload(%q) = %q, %v; want %q", tc.in, got, err, tc.token)
			}
		})
	}
}

// FuzzParsePayload checks that any accepted payload yields a token that the
// access engine accepts unchanged, and that nothing panics.
func FuzzParsePayload(f *testing.F) {
	for _, tc := range payloadCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := ParsePayload(s)
		if err != nil {
			if !errors.Is(err, ErrNotVisitKey) {
				t.Fatalf("error %v is not ErrNotVisitKey", err)
			}
			if tok != "" {
				t.Fatalf("token %q returned with error", tok)
			}
			return
		}
		if PayloadPrefix+tok != s {
			t.Fatalf("token %q does not round-trip %q", tok, s)
		}
		n, err := access.Normalize(access.KindQR, tok)
		if err != nil || n != tok {
			t.Fatalf("access.Normalize(%q) = %q, %v", tok, n, err)
		}
	})
}
