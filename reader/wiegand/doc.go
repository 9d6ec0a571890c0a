// Package wiegand reads Wiegand card readers and keypads.
//
// Concepts:
//   - An EdgeSource delivers the falling edges of the two data lines, D0 (a 0
//     bit) and D1 (a 1 bit), in the order they happened. On the device it is a
//     periph gpioioctl LineSet over both lines (device/pins), so the kernel
//     keeps their order; in CI it is a fake driven by a transmitter with real
//     timing (device/pins/pinstest).
//   - A Frame is the bits between two silences. The end of a frame is
//     adaptive: 3 × the measured bit interval, clamped to 3-100 ms. A frame
//     that already decodes to a valid format ends after 2 × the interval.
//   - Decode is a pure function from bits to a Result: 26-bit H10301, 34-bit
//     H10306, 35-bit Corporate 1000, 37-bit H10304 or H10302 (one layout, a
//     configured preference tells them apart, H10304 by default), raw N-bit
//     frames with the generic parity layout, and 4- and 8-bit keypad bursts.
//     Every layout's parity is checked.
//   - Card frames become access.KindCard credentials "FACILITY:NUMBER" (or
//     "raw:HEX"). Keypad bursts feed the TD63 keypad's PIN entry
//     (keypad.Entry): digits, '*' (key 10) clears, '#' (key 11) submits, a
//     5 s pause discards, at most 12 digits. The submitted
//     digits are an access.KindPIN credential; typed digits never become a
//     card.
//   - Noise is rejected and counted in Stats: narrow pulses, both lines low
//     at once, impossible bit counts, parity and complement failures.
//   - Recent keeps the last frames (bits and timing) for the technician's
//     `intercomctl wiegand last`; key bursts are kept without their bits. Card
//     bits and numbers are never logged.
//   - Transcripts (transcript.go) record edge timings to replay in tests.
package wiegand
