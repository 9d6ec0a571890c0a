package main

import (
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzRun feeds arbitrary command lines to intercomctl with no daemon
// behind the socket: it must never panic, and must end in a usage error
// (2) or a clear failure to reach the daemon (1), never success.
func FuzzRun(f *testing.F) {
	for _, tt := range goldenCases {
		f.Add(strings.Join(tt.args, " "), tt.stdin)
	}
	f.Add("", "")
	f.Add("--json", "")
	f.Add("sim card", "")
	// One socket path that nothing listens on, for every input: a
	// directory per input would cost more than the run itself.
	sock := filepath.Join(f.TempDir(), "none.sock")
	f.Fuzz(func(t *testing.T, line, stdin string) {
		args := strings.Fields(line)
		for _, a := range args {
			if a == "-h" || a == "--h" || a == "-help" || a == "--help" || a == "help" {
				return // help succeeds by design
			}
			if strings.HasPrefix(a, "-socket") || strings.HasPrefix(a, "--socket") {
				return // could name a live socket
			}
		}
		err := run(t.Context(), append([]string{"--socket", sock}, args...), strings.NewReader(stdin), io.Discard, io.Discard)
		if code := exitCode(err, io.Discard); code != 1 && code != 2 {
			t.Fatalf("intercomctl %q with no daemon: exit %d (%v)", line, code, err)
		}
	})
}
