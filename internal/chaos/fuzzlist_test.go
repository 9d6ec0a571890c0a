package chaos

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// requiredFuzz are the fuzz targets `make fuzz` must find (issue 7): per
// input the device takes from outside, at least one of these per package.
var requiredFuzz = map[string][]string{
	"reader/wiegand":  {"FuzzDecode", "FuzzReadTranscript"},                                                  // Wiegand frames and edge streams
	"reader/keypad":   {"FuzzParser"},                                                                        // TD63 frames
	"sync/wire":       {"FuzzDelta", "FuzzSnapshotChunk", "FuzzCommand", "FuzzEventBatch", "FuzzParseTopic"}, // MQTT messages
	"reader/qr":       {"FuzzParsePayload"},                                                                  // QR payloads
	"internal/config": {"FuzzParse"},                                                                         // config
	"localapi":        {"FuzzDecode", "FuzzQuery"},                                                           // debug-socket requests
	"store":           {"FuzzDecodeRecord", "FuzzDecodeUse", "FuzzDecodeLockout", "FuzzParseMeta"},           // stored records
}

// TestFuzzTargetsExist fails if a required fuzz target disappears: the
// fuzzing figures of `make fuzz` would silently stop covering that input.
func TestFuzzTargetsExist(t *testing.T) {
	root := filepath.Join("..", "..")
	re := regexp.MustCompile(`(?m)^func (Fuzz\w+)\(f \*testing\.F\)`)
	found := map[string]map[string]bool{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		for _, m := range re.FindAllSubmatch(b, -1) {
			if found[rel] == nil {
				found[rel] = map[string]bool{}
			}
			found[rel][string(m[1])] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, names := range found {
		n += len(names)
	}
	t.Logf("%d fuzz targets in %d packages", n, len(found))
	for pkg, names := range requiredFuzz {
		for _, name := range names {
			if !found[pkg][name] {
				t.Errorf("fuzz target %s in %s is missing", name, pkg)
			}
		}
	}
}
