// Package deptest holds the module's dependency rules as tests, so that the
// shape of the code cannot drift: access stays pure, and only cmd wires
// hardware (device) into the rest.
package deptest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/intercomd/intercomd"

type pkg struct {
	ImportPath string
	Deps       []string
	Imports    []string
}

func list(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list returned no packages")
	}
	return pkgs
}

func TestDependencyRules(t *testing.T) {
	// access may depend on the standard library only, and directly on none of
	// the packages that reach hardware, files or the network.
	thirdParty := []string{module + "/", "periph.io/", "go.bug.st/", "go.etcd.io/", "github.com/", "gocv.io/", "golang.org/x/"}
	directStd := map[string]bool{"net": true, "net/http": true, "os": true, "os/exec": true, "syscall": true, "io/fs": true}
	seenAccess := false
	for _, p := range list(t) {
		rel := strings.TrimPrefix(p.ImportPath, module+"/")
		if rel == "access" {
			seenAccess = true
			for _, imp := range p.Deps {
				for _, f := range thirdParty {
					if strings.HasPrefix(imp, f) {
						t.Errorf("access depends on %s; it must stay pure", imp)
					}
				}
			}
			for _, imp := range p.Imports {
				if directStd[imp] {
					t.Errorf("access imports %s; it must not touch files, processes or the network", imp)
				}
			}
			continue
		}
		if strings.HasPrefix(rel, "cmd/") || strings.HasPrefix(rel, "device") || strings.HasPrefix(rel, "internal/") {
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, module+"/device") {
				t.Errorf("%s imports %s: only cmd/ wires device into the rest", rel, imp)
			}
		}
	}
	if !seenAccess {
		t.Fatal("package access not found")
	}
}
