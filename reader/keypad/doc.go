// Package keypad reads PINs from the TD63 keypad over a serial line and shows
// each decision on the keypad's LED and buzzer.
//
// Concepts:
//   - The TD63 protocol (docs/td63.md) is pure code in td63.go: Frame, its
//     typed payloads (key, heartbeat, ack, LED, buzzer, poll), CRC16
//     (CRC-16/CCITT-FALSE) and a streaming Parser that resynchronises after
//     garbage, split and corrupted frames with bounded memory and counters.
//   - Entry (pin.go) is the PIN-entry state machine, a pure function of
//     (key, time): digits are collected, '#' submits, '*' clears, a pause of
//     DigitTimeout (5 s) discards, more than MaxDigits (12) discards.
//   - Reader (reader.go) opens the line through an injected Opener (so it
//     reconnects with backoff when the port vanishes), reads with its own loop
//     (a serial read timeout returns (0, nil)), delivers each PIN as an
//     access.Credential of kind pin to an injected DecideFunc, and answers
//     with the Feedback for the decision: green and one beep on grant, red and
//     three beeps on deny, red fast blink and one long beep on lockout.
//   - Heartbeat supervision: the keypad sends a heartbeat every second; none
//     for HeartbeatTimeout (3 s), or a lost port, marks the reader offline
//     and emits reader.offline; the next heartbeat emits reader.online.
//   - Stats are the counters behind `intercomctl keypad stats`.
//
// Writes (polls and feedback) go straight to the port: a UART drains at the
// line rate, but a pty whose far end nobody reads fills up and blocks them,
// so in simulation the emulator must keep reading.
//
// Digits are secrets: they are never logged, counted individually or put in
// events. The package does not import device/: the daemon passes
// serialport.Config.Opener, and tests pass pty pairs from
// device/serialport/serialporttest. td63sim is the keypad emulator.
package keypad
