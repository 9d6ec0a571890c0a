// Package td63sim emulates a TD63 keypad on the far end of a serial line (in
// practice the master of a pty pair from device/serialport/serialporttest),
// for tests and for the daemon's simulation mode.
//
// Concepts:
//   - Keypad.Run attaches the emulator to the line: it sends a heartbeat at
//     once and then every HeartbeatEvery, reads the controller's frames,
//     acknowledges LED and buzzer commands and records them (Commands, Wait,
//     LED), until ctx ends or the line fails (unplugged).
//   - Type presses keys with human timing (KeyGap ± Jitter between keys);
//     Press sends one key at once; WriteRaw and WriteChunks inject garbage,
//     corrupted and split frames byte for byte.
//   - SetHeartbeat(false) makes the keypad go silent while staying attached,
//     the way a hung keypad looks to the controller.
//
// Unplugging is the line's business (serialporttest.Link.Unplug): Run then
// returns, and a later Run on the new far end resumes, keeping the keypad's
// uptime and sequence numbers as a real keypad that was only unplugged would.
package td63sim
