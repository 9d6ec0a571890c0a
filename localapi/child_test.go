package localapi_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intercomd/intercomd/localapi"
)

// childEnv makes the test binary act as a client of the socket it names, so
// that a test running as root can connect as another uid.
const childEnv = "LOCALAPI_TEST_CHILD_SOCKET"

func childMain(path string) {
	c := &localapi.Client{Path: path}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Status(ctx)
	var apiErr *localapi.APIError
	switch {
	case err == nil:
		fmt.Println("ok")
	case errors.As(err, &apiErr) && apiErr.Status == 403:
		fmt.Println("forbidden")
	case errors.Is(err, localapi.ErrPermission):
		fmt.Println("kernel-denied")
	default:
		fmt.Println("error:", err)
	}
}

// TestRealPeerCredentials connects from a child process that runs as nobody
// (uid 65534), with and without the socket's group, and checks what the
// kernel and SO_PEERCRED make of it.
func TestRealPeerCredentials(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to start a child as another uid")
	}
	const nobody, group = 65534, 4242
	dir, err := os.MkdirTemp("", "lapi")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // traversable by nobody
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "child")
	copyFile(t, os.Args[0], bin)

	tests := []struct {
		name   string
		group  int
		mode   os.FileMode // chmod after listen; 0 keeps 0660
		uid    uint32
		gid    uint32
		groups []uint32
		want   string
	}{
		{"nobody refused by the kernel", -1, 0, nobody, nobody, nil, "kernel-denied"},
		{"nobody refused by SO_PEERCRED", -1, 0o666, nobody, nobody, nil, "forbidden"},
		{"nobody in another group refused", group, 0o666, nobody, nobody, []uint32{group + 1}, "forbidden"},
		{"supplementary group member allowed", group, 0, nobody, nobody, []uint32{group}, "ok"},
		{"primary group member allowed", group, 0, nobody, group, nil, "ok"},
		{"root allowed", -1, 0, 0, 0, nil, "ok"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("s%d.sock", i))
			e := start(t, sample(), func(s *localapi.Server) { s.Path, s.Group = path, tt.group })
			if tt.mode != 0 {
				if err := os.Chmod(path, tt.mode); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.CommandContext(t.Context(), bin, "-test.run=^$")
			cmd.Env = append(os.Environ(), childEnv+"="+path)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: tt.uid, Gid: tt.gid, Groups: tt.groups}}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v: %s", err, out)
			}
			if got := strings.TrimSpace(string(out)); got != tt.want {
				t.Errorf("child as %d:%d%v got %q, want %q", tt.uid, tt.gid, tt.groups, got, tt.want)
			}
			denied := e.srv.Stats().Denied
			if (tt.want == "forbidden") != (denied > 0) {
				t.Errorf("Stats.Denied = %d for outcome %s", denied, tt.want)
			}
			if tt.want == "forbidden" {
				evs := e.audit.events()
				if len(evs) != 1 || evs[0].UID == nil || *evs[0].UID != int(tt.uid) {
					t.Errorf("denial audit = %+v, want one with uid %d", evs, tt.uid)
				}
			}
		})
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
