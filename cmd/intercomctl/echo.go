package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// noEcho turns off the echo of the terminal f, so that a secret typed at a
// prompt is not shown, and returns the function that restores it. It
// returns false when f is not a terminal (a pipe or a file): nothing to hide.
func noEcho(f *os.File) (restore func(), ok bool) {
	fd := int(f.Fd())
	old, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return nil, false
	}
	t := *old
	t.Lflag &^= unix.ECHO
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &t); err != nil {
		return nil, false
	}
	return func() { _ = unix.IoctlSetTermios(fd, unix.TCSETS, old) }, true
}
