// Package pinstest holds fakes of the intercom's pins for CI and the
// simulator, driven with realistic timing so that the real reader and relay
// code paths run unchanged:
//   - Edges, a two-line Wiegand edge source that timestamps edges when they
//     happen and buffers them like the kernel's line request;
//   - Transmitter, a simulated Wiegand reader that sends card frames and key
//     bursts onto Edges (50 µs pulses, 2 ms apart, optional jitter), and
//     Replay for recorded transcripts;
//   - Output, an observable relay output that records every level driven and
//     flags any read-back;
//   - Input, a door contact (DPI) or exit button (REX) whose level a test
//     sets.
//
// Fakes are structs with exported fields, in the spirit of periph's
// gpiotest; they are never registered in gpioreg, so parallel tests do not
// share them.
package pinstest
