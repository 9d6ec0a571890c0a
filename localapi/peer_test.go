package localapi

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestPolicy(t *testing.T) {
	const group = 4242
	groups := map[int32][]uint32{
		100: {4242, 20}, // member through a supplementary group
		101: {20, 27},   // not a member
		102: nil,        // no supplementary groups
		103: {4242},     // but its uid changed since connect
		104: {4242},     // unreadable
	}
	groupsOf := func(pid int32, uid uint32) ([]uint32, error) {
		switch pid {
		case 103:
			return nil, errors.New("pid 103 changed uid")
		case 104:
			return nil, os.ErrPermission
		}
		g, ok := groups[pid]
		if !ok {
			return nil, os.ErrNotExist
		}
		return g, nil
	}
	tests := []struct {
		name  string
		pl    policy
		peer  Peer
		allow bool
		why   string
	}{
		{"root", policy{self: 999, group: group, groupsOf: groupsOf}, Peer{PID: 1, UID: 0, GID: 0}, true, "root"},
		{"root without group", policy{self: 999, group: -1}, Peer{PID: 1, UID: 0, GID: 1000}, true, "root"},
		{"daemon uid", policy{self: 999, group: group, groupsOf: groupsOf}, Peer{PID: 5, UID: 999, GID: 999}, true, "daemon uid"},
		{"primary group", policy{self: 999, group: group, groupsOf: groupsOf}, Peer{PID: 9, UID: 1000, GID: group}, true, "primary group"},
		{"supplementary group", policy{self: 999, group: group, groupsOf: groupsOf}, Peer{PID: 100, UID: 1000, GID: 1000}, true, "supplementary group"},
		{"other uid", policy{self: 999, group: group, groupsOf: groupsOf}, Peer{PID: 101, UID: 1000, GID: 1000}, false, "not in group"},
		{"nobody", policy{self: 999, group: group, groupsOf: groupsOf}, Peer{PID: 102, UID: 65534, GID: 65534}, false, "not in group"},
		{"pid reused", policy{self: 999, group: group, groupsOf: groupsOf}, Peer{PID: 103, UID: 1000, GID: 1000}, false, "groups unreadable"},
		{"groups unreadable", policy{self: 999, group: group, groupsOf: groupsOf}, Peer{PID: 104, UID: 1000, GID: 1000}, false, "groups unreadable"},
		{"process gone", policy{self: 999, group: group, groupsOf: groupsOf}, Peer{PID: 105, UID: 1000, GID: 1000}, false, "groups unreadable"},
		{"no pid", policy{self: 999, group: group, groupsOf: groupsOf}, Peer{PID: 0, UID: 1000, GID: 1000}, false, "not in group"},
		{"no group configured", policy{self: 999, group: -1, groupsOf: groupsOf}, Peer{PID: 100, UID: 1000, GID: group}, false, "not root"},
		{"gid 0 group", policy{self: 999, group: 0, groupsOf: groupsOf}, Peer{PID: 101, UID: 1000, GID: 0}, true, "primary group"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := tt.pl.allow(tt.peer)
			if got != tt.allow || !strings.HasPrefix(why, tt.why) {
				t.Errorf("allow(%+v) = %v, %q; want %v, %q", tt.peer, got, why, tt.allow, tt.why)
			}
		})
	}
}

var statusCases = []struct {
	name   string
	in     string
	euid   uint32
	groups []uint32
	ok     bool
}{
	{"typical", "Name:\tbash\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t1000\t1000\t1000\t1000\nGid:\t1000\t1000\t1000\t1000\nFDSize:\t256\nGroups:\t4 24 27 4242 \nNStgid:\t1\n", 1000, []uint32{4, 24, 27, 4242}, true},
	{"setuid binary", "Uid:\t1000\t0\t0\t0\nGroups:\t\n", 0, nil, true},
	{"no groups", "Uid:\t0\t0\t0\t0\nGroups:\n", 0, nil, true},
	{"missing groups", "Uid:\t0\t0\t0\t0\n", 0, nil, false},
	{"missing uid", "Groups:\t1 2\n", 0, nil, false},
	{"bad group", "Uid:\t1\t1\t1\t1\nGroups:\t1 x\n", 0, nil, false},
	{"negative group", "Uid:\t1\t1\t1\t1\nGroups:\t-1\n", 0, nil, false},
	{"huge group", "Uid:\t1\t1\t1\t1\nGroups:\t4294967296\n", 0, nil, false},
	{"short uid", "Uid:\t1\nGroups:\t1\n", 0, nil, false},
	{"two groups lines", "Uid:\t1\t1\t1\t1\nGroups:\t1\nGroups:\t4242\n", 0, nil, false},
	{"two uid lines", "Uid:\t1\t1\t1\t1\nUid:\t0\t0\t0\t0\nGroups:\t1\n", 0, nil, false},
	{"empty", "", 0, nil, false},
}

func TestParseStatus(t *testing.T) {
	for _, tt := range statusCases {
		t.Run(tt.name, func(t *testing.T) {
			euid, groups, err := parseStatus([]byte(tt.in))
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if !tt.ok {
				if !errors.Is(err, errStatus) {
					t.Errorf("err = %v, want errStatus", err)
				}
				return
			}
			if euid != tt.euid || !slices.Equal(groups, tt.groups) {
				t.Errorf("got %d %v, want %d %v", euid, groups, tt.euid, tt.groups)
			}
		})
	}
}

func FuzzParseStatus(f *testing.F) {
	for _, tt := range statusCases {
		f.Add([]byte(tt.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		euid, groups, err := parseStatus(b)
		if err != nil {
			if euid != 0 || groups != nil {
				t.Fatalf("error with results %d %v", euid, groups)
			}
			return
		}
		if !strings.Contains(string(b), "Uid:") || !strings.Contains(string(b), "Groups:") {
			t.Fatalf("parsed %q without Uid and Groups lines", b)
		}
	})
}

// TestProcGroups reads a fixture /proc tree, as node_exporter's tests do.
func TestProcGroups(t *testing.T) {
	root := t.TempDir()
	write := func(pid, text string) {
		if err := os.MkdirAll(filepath.Join(root, pid), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, pid, "status"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("42", statusCases[0].in)
	write("43", "garbage")
	g := procGroups(root)
	got, err := g(42, 1000)
	if err != nil || !slices.Equal(got, statusCases[0].groups) {
		t.Errorf("groups(42, 1000) = %v, %v; want %v", got, err, statusCases[0].groups)
	}
	if _, err := g(42, 1001); err == nil {
		t.Error("groups(42, 1001): a pid whose uid changed must not give groups")
	}
	if _, err := g(43, 1000); !errors.Is(err, errStatus) {
		t.Errorf("groups(43) = %v, want errStatus", err)
	}
	if _, err := g(44, 1000); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("groups(44) = %v, want not exist", err)
	}
	// And this very process, through the real /proc.
	own, err := procGroups("/proc")(int32(os.Getpid()), uint32(os.Geteuid()))
	if err != nil {
		t.Fatalf("own groups: %v", err)
	}
	want, _ := os.Getgroups()
	for _, w := range want {
		if !slices.Contains(own, uint32(w)) {
			t.Errorf("own groups %v lack %d", own, w)
		}
	}
}
