package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTruth(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []sample
		bad      bool
	}{
		{"plain", "a.jpg VK1:00\nb.jpg hello world\n", []sample{{"d/a.jpg", "VK1:00"}, {"d/b.jpg", "hello world"}}, false},
		{"comments and blanks", "# set\n\r\n  \na.jpg x\r\n", []sample{{"d/a.jpg", "x"}}, false},
		{"no text", "a.jpg\n", nil, true},
		{"escapes dir", "../x.jpg t\n", nil, true},
		{"absolute", "/etc/passwd t\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTruth(strings.NewReader(tc.in), "d")
			if tc.bad {
				if err == nil {
					t.Fatalf("parseTruth accepted %q: %v", tc.in, got)
				}
				return
			}
			if err != nil || len(got) != len(tc.want) {
				t.Fatalf("parseTruth = %v, %v; want %v", got, err, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("sample %d = %v, want %v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func FuzzParseTruth(f *testing.F) {
	for _, s := range []string{"a.jpg VK1:00\n", "# c\nb.png two words\n", "../x t", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		set, err := parseTruth(strings.NewReader(in), "d")
		if err != nil {
			return
		}
		for _, s := range set {
			if !strings.HasPrefix(s.path, "d/") || !filepath.IsLocal(strings.TrimPrefix(s.path, "d/")) {
				t.Fatalf("sample path %q escapes the directory", s.path)
			}
		}
	})
}

// TestSiblingLayout: without truth.txt, NAME.txt beside NAME.jpg holds the
// text; unlabelled images are skipped.
func TestSiblingLayout(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.jpg"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("text with space"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.png"), nil, 0o644)
	os.WriteFile(filepath.Join(dir, "notes.md"), nil, 0o644)
	set, err := loadSet(dir)
	if err != nil || len(set) != 1 || set[0].want != "text with space" || filepath.Base(set[0].path) != "a.jpg" {
		t.Fatalf("loadSet = %v, %v", set, err)
	}
}

// TestRunOnFixtures runs the whole tool on testdata/qr (truth layout) and,
// when ZXingReader is installed, with its peer run.
func TestRunOnFixtures(t *testing.T) {
	zx := ""
	if p, err := exec.LookPath("ZXingReader"); err == nil {
		zx = p
	}
	var out strings.Builder
	if err := run(t.Context(), []string{"-zxing", zx, "-workers", "2", "../../testdata/qr"}, &out); err != nil {
		t.Fatal(err)
	}
	lines := out.String()
	for _, want := range []string{"BENCH qr_frames 5 frames", "BENCH qr_decoded 5 frames", "BENCH qr_ms_mean ", "BENCH qr_set_s "} {
		if !strings.Contains(lines, want) {
			t.Errorf("output lacks %q:\n%s", want, lines)
		}
	}
	if zx != "" && !strings.Contains(lines, "BENCH qr_decoded_zxingcpp ") {
		t.Errorf("no zxing-cpp figures:\n%s", lines)
	}
	if err := run(t.Context(), []string{"-zxing", "", t.TempDir()}, &out); err == nil {
		t.Error("run accepted a directory without labelled images")
	}
}
