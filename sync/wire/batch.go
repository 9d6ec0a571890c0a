package wire

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/intercomd/intercomd/access"
)

// BatchOverhead bounds the bytes an event batch adds around its events, for
// a device id of at most MaxDeviceID characters.
const BatchOverhead = len(`{"v":1,"device":"","events":[]}`) + MaxDeviceID

// CheckEvent validates one pre-encoded event (the outbox stores events as
// JSON) so that it can be spliced into a batch as is. An event that cannot
// be sent alone within MaxPayload is ErrTooLarge.
func CheckEvent(raw []byte) error {
	if len(raw)+BatchOverhead > MaxPayload {
		return fmt.Errorf("%w: event of %d bytes", ErrTooLarge, len(raw))
	}
	var e access.Event
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("%w: event: %w", ErrMalformed, jsonError(err))
	}
	if !bytes.HasPrefix(bytes.TrimLeft(raw, " \t\r\n"), []byte("{")) {
		return fmt.Errorf("%w: event is not a JSON object", ErrMalformed)
	}
	return ValidEvent(&e)
}

// AppendBatch appends the payload of an event batch for device, splicing
// events that passed CheckEvent, to dst. The caller keeps the total within
// MaxPayload: BatchOverhead plus each event's length plus one.
func AppendBatch(dst []byte, device string, events [][]byte) []byte {
	dst = append(dst, `{"v":1,"device":"`...)
	dst = append(dst, device...) // ValidDevice: nothing to escape
	dst = append(dst, `","events":[`...)
	for i, e := range events {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, bytes.TrimSpace(e)...)
	}
	return append(dst, "]}"...)
}
