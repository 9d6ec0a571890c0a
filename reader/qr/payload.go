package qr

import (
	"errors"
	"fmt"
	"strings"
)

// PayloadPrefix starts every visit-key payload (docs/protocol.md).
const PayloadPrefix = "VK1:"

// TokenLen is the length of a visit-key token in hex digits.
const TokenLen = 32

// ErrNotVisitKey reports a decoded QR code that is not a visit key. Such
// codes are counted and ignored; they never reach a decision.
var ErrNotVisitKey = errors.New("qr: not a visit key")

// ParsePayload returns the token of a visit-key payload "VK1:<token>", where
// token is exactly 32 lowercase hex digits. Anything else, including
// surrounding whitespace or upper-case digits, is ErrNotVisitKey. The error
// never quotes the payload, which may be a secret.
func ParsePayload(s string) (token string, err error) {
	rest, ok := strings.CutPrefix(s, PayloadPrefix)
	if !ok {
		return "", fmt.Errorf("%w: missing %s prefix", ErrNotVisitKey, PayloadPrefix)
	}
	if len(rest) != TokenLen {
		return "", fmt.Errorf("%w: token has %d characters, want %d", ErrNotVisitKey, len(rest), TokenLen)
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return "", fmt.Errorf("%w: token character %d is not a lowercase hex digit", ErrNotVisitKey, i)
		}
	}
	return rest, nil
}
