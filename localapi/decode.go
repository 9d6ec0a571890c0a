package localapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/intercomd/intercomd/access"
)

// Request decoding is pure, so it is table-tested and fuzzed on its own.
// Error messages never quote a credential value.

// decodeJSON decodes exactly one JSON value into v, refusing unknown fields
// and trailing data.
func decodeJSON(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: empty body", ErrBadRequest)
		}
		return fmt.Errorf("%w: %s", ErrBadRequest, jsonProblem(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: trailing data after the JSON value", ErrBadRequest)
	}
	return nil
}

// jsonProblem describes a decode error without quoting the input: a syntax
// error's message can contain the offending bytes, which may be a secret.
func jsonProblem(err error) string {
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return fmt.Sprintf("invalid JSON at offset %d", se.Offset)
	}
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		return fmt.Sprintf("field %q: wrong type %s", te.Field, te.Value)
	}
	var msg string
	if errors.Is(err, io.ErrUnexpectedEOF) {
		msg = "truncated JSON"
	} else {
		// Unknown fields and our own UnmarshalText errors name fields and
		// enum words, never values of secret fields (those are plain strings).
		msg = clip2(err.Error(), 120)
	}
	return msg
}

func clip2(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// DecodeExplain decodes and checks an explain request body.
func DecodeExplain(body []byte) (ExplainRequest, error) {
	var r ExplainRequest
	if err := decodeJSON(body, &r); err != nil {
		return r, err
	}
	if r.Kind == access.KindUnknown {
		return r, fmt.Errorf("%w: kind is required", ErrBadRequest)
	}
	if r.Value == "" || len(r.Value) > 1024 {
		return r, fmt.Errorf("%w: value must be 1-1024 bytes", ErrBadRequest)
	}
	if err := checkName("reader", r.Reader, 64); err != nil {
		return r, err
	}
	if err := checkName("visit_id", r.VisitID, 128); err != nil {
		return r, err
	}
	return r, nil
}

// checkName accepts empty or short identifier-like strings.
func checkName(field, s string, max int) error {
	if len(s) > max {
		return fmt.Errorf("%w: %s longer than %d", ErrBadRequest, field, max)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == ':') {
			return fmt.Errorf("%w: %s has a character outside [A-Za-z0-9._:-]", ErrBadRequest, field)
		}
	}
	return nil
}

// DecodeRelay decodes and checks a relay request body.
func DecodeRelay(body []byte) (RelayRequest, error) {
	var r RelayRequest
	if err := decodeJSON(body, &r); err != nil {
		return r, err
	}
	switch r.Action {
	case RelayPulse:
		if d := time.Duration(r.For); d != 0 && (d < MinPulse || d > MaxPulse) {
			return r, fmt.Errorf("%w: pulse must be %v to %v", ErrBadRequest, MinPulse, MaxPulse)
		}
	case RelayLock, RelayUnlock:
		if r.For != 0 {
			return r, fmt.Errorf("%w: only pulse takes a duration", ErrBadRequest)
		}
	default:
		return r, fmt.Errorf("%w: action is required (pulse, lock or unlock)", ErrBadRequest)
	}
	return r, nil
}

// DecodeLogLevel decodes a log-level request body.
func DecodeLogLevel(body []byte) (slog.Level, error) {
	var r LogLevelRequest
	if err := decodeJSON(body, &r); err != nil {
		return 0, err
	}
	var l slog.Level
	if r.Level == "" || len(r.Level) > 16 {
		return 0, fmt.Errorf("%w: level is required (debug, info, warn, error)", ErrBadRequest)
	}
	if err := l.UnmarshalText([]byte(r.Level)); err != nil {
		return 0, fmt.Errorf("%w: level %q: want debug, info, warn or error", ErrBadRequest, r.Level)
	}
	return l, nil
}

// DecodeLockdown decodes a lockdown request body. The field is required, so
// an empty object cannot lift a lockdown by accident.
func DecodeLockdown(body []byte) (bool, error) {
	var r struct {
		On *bool `json:"on"`
	}
	if err := decodeJSON(body, &r); err != nil {
		return false, err
	}
	if r.On == nil {
		return false, fmt.Errorf("%w: on is required", ErrBadRequest)
	}
	return *r.On, nil
}

// Sim request limits.
const (
	maxSimPayload = 4096
	maxSimImage   = 8 << 20
)

// DecodeSim decodes and checks a sim request body.
func DecodeSim(body []byte) (SimRequest, error) {
	var r SimRequest
	if err := decodeJSON(body, &r); err != nil {
		return r, err
	}
	bad := func(msg string) (SimRequest, error) {
		return r, fmt.Errorf("%w: sim %v: %s", ErrBadRequest, r.Kind, msg)
	}
	only := func(ok bool) bool {
		n := 0
		for _, s := range []string{r.Card, r.Format, r.PIN, r.QR, r.Door} {
			if s != "" {
				n++
			}
		}
		if len(r.Image) > 0 {
			n++
		}
		return ok && n <= 2
	}
	switch r.Kind {
	case SimCard:
		if _, err := access.Normalize(access.KindCard, r.Card); err != nil || !only(r.PIN == "" && r.QR == "" && r.Door == "" && len(r.Image) == 0) {
			return bad("card must be FACILITY:NUMBER")
		}
		if r.Format == "" {
			r.Format = DefaultWiegandFormat
		}
		if err := checkName("format", r.Format, 16); err != nil {
			return r, err
		}
	case SimPIN:
		if len(r.PIN) < 1 || len(r.PIN) > 16 || !digits(r.PIN) || !only(r.Card == "" && r.QR == "" && r.Door == "" && (r.Format == "" || r.Format == "td63" || r.Format == "wiegand") && len(r.Image) == 0) {
			return bad("pin must be 1-16 digits; format td63 (default) or wiegand")
		}
	case SimQR:
		if (r.QR == "") == (len(r.Image) == 0) || len(r.QR) > maxSimPayload || len(r.Image) > maxSimImage ||
			!only(r.Card == "" && r.PIN == "" && r.Door == "" && r.Format == "") {
			return bad("give either a payload of at most 4096 bytes or an image")
		}
	case SimREX:
		if !only(r.Card == "" && r.PIN == "" && r.QR == "" && r.Door == "" && r.Format == "" && len(r.Image) == 0) {
			return bad("takes no arguments")
		}
	case SimDoor:
		if (r.Door != "open" && r.Door != "close") || !only(r.Card == "" && r.PIN == "" && r.QR == "" && r.Format == "" && len(r.Image) == 0) {
			return bad("door must be open or close")
		}
	default:
		return r, fmt.Errorf("%w: kind is required (card, pin, qr, rex or door)", ErrBadRequest)
	}
	return r, nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ParseCount reads the query parameter name as a count in [1, max], with def
// when it is absent.
func ParseCount(q url.Values, name string, def, max int) (int, error) {
	s := q.Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || len(s) > 10 {
		return 0, fmt.Errorf("%w: %s must be a number", ErrBadRequest, name)
	}
	if n > max {
		return 0, fmt.Errorf("%w: %s must be at most %d", ErrBadRequest, name, max)
	}
	return n, nil
}

// ParseBool reads a query flag: absent, "0" or "false" is false; "1" or
// "true" is true.
func ParseBool(q url.Values, name string) (bool, error) {
	switch q.Get(name) {
	case "", "0", "false":
		return false, nil
	case "1", "true":
		return true, nil
	}
	return false, fmt.Errorf("%w: %s must be 0 or 1", ErrBadRequest, name)
}

// DecodeKeyFilter reads a key listing's query.
func DecodeKeyFilter(q url.Values) (KeyFilter, error) {
	var f KeyFilter
	var err error
	if f.Limit, err = ParseCount(q, "limit", DefaultKeyLimit, MaxKeyLimit); err != nil {
		return f, err
	}
	if f.Limit == 0 {
		f.Limit = DefaultKeyLimit
	}
	if f.Deleted, err = ParseBool(q, "deleted"); err != nil {
		return f, err
	}
	f.After = q.Get("after")
	if err := checkName("after", f.After, 128); err != nil {
		return f, err
	}
	return f, nil
}
