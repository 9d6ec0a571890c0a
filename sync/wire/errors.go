package wire

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every decoding error wraps exactly one of them.
var (
	// ErrTooLarge: the payload exceeds MaxPayload, or a list in it exceeds
	// its limit.
	ErrTooLarge = errors.New("wire: message too large")
	// ErrMalformed: not JSON, or a field of the wrong JSON type.
	ErrMalformed = errors.New("wire: malformed message")
	// ErrVersion: "v" is missing or not a version this build speaks.
	ErrVersion = errors.New("wire: unsupported message version")
	// ErrInvalid: well-formed JSON whose content breaks a rule (a revision
	// going backwards, a bad hash, a missing field, ...).
	ErrInvalid = errors.New("wire: invalid message")
)

// Class names the sentinel an error wraps, for counters and events:
// "too_large", "malformed", "version", "invalid", or "other".
func Class(err error) string {
	switch {
	case errors.Is(err, ErrTooLarge):
		return "too_large"
	case errors.Is(err, ErrMalformed):
		return "malformed"
	case errors.Is(err, ErrVersion):
		return "version"
	case errors.Is(err, ErrInvalid):
		return "invalid"
	}
	return "other"
}

// msgError is a rule broken inside a message: the sentinel first, then the
// path to the offending part, so that every error reads "wire: invalid
// message: delta rev 5: visit v1: ...".
type msgError struct {
	kind error
	msg  string
}

func (e *msgError) Error() string { return e.kind.Error() + ": " + e.msg }
func (e *msgError) Unwrap() error { return e.kind }

func invalid(what string, format string, args ...any) error {
	return &msgError{ErrInvalid, what + ": " + fmt.Sprintf(format, args...)}
}

// within adds context to an error from a part of a message.
func within(context string, err error) error {
	if me, ok := errors.AsType[*msgError](err); ok {
		return &msgError{me.kind, context + ": " + me.msg}
	}
	return fmt.Errorf("wire: %s: %w", context, err)
}
