// Package serialport opens serial lines (the TD63 keypad's RS-485/RS-232
// link) through go.bug.st/serial, with the line settings taken from a plain
// Config whose zero value means 115200 baud, 8 data bits, no parity, one stop
// bit.
//
// Concepts:
//   - Config is what the daemon's configuration file holds; Config.Mode turns
//     it into a serial.Mode and rejects bad values with a clear error.
//   - Open is a thin wrapper over serial.Open that names the device in its
//     errors. A missing device matches fs.ErrNotExist, so a reader can treat
//     "unplugged" as an ordinary reason to retry.
//   - Config.Opener returns a func(ctx) (io.ReadWriteCloser, error), the shape
//     the keypad reader takes, so that the reader never imports this package.
//
// Library traps the callers must know (see the repository's library notes):
// a read timeout returns (0, nil); Close from another goroutine unblocks Read
// with a PortClosed error, which is also what a vanished device returns, so
// keep your own closing flag; DTR/RTS fail on a pty, so nothing here sets them;
// the library uses select(2), so a descriptor of 1024 or more panics in Read:
// always Close what you Open.
//
// The sibling package serialporttest provides pty pairs that tests and the
// daemon's simulation mode open with go.bug.st/serial exactly as on the device.
package serialport
