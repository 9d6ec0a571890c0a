// Package serialporttest provides pseudo-terminal pairs that stand in for a
// serial cable in tests and in the daemon's simulation mode.
//
// Concepts:
//   - A Pair is one pty: the master (Pair.Master) is the far end, where an
//     emulated device such as the TD63 keypad (reader/keypad/td63sim) reads
//     and writes; the slave (Pair.SlavePath) is what the code under test opens
//     with go.bug.st/serial, exactly as it opens /dev/ttyUSB0 on the device.
//   - A Link is a stable path (a symlink, like /dev/serial/by-id/...) that
//     points at the current Pair. Unplug closes the pair, so an open reader
//     sees its port vanish; Replug creates a new pair and re-points the
//     symlink, so a reader that reopens the same path finds the device again.
//
// The master is put in non-blocking mode and handed to the runtime poller, so
// Close unblocks a pending Read and SetReadDeadline works on it. The slave is
// set to raw mode when the pair is created and kept open by the Pair, so bytes
// the far end writes before the reader opens are neither echoed nor held back
// waiting for a newline.
package serialporttest
