package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSiteKeyPermissions(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "site.key")
	if err := os.WriteFile(key, []byte("00112233445566778899aabbccddeeff\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := readSiteKey(key); err != nil || len(k) != 16 {
		t.Fatalf("readSiteKey(0600) = %x, %v", k, err)
	}
	for _, mode := range []os.FileMode{0o604, 0o602, 0o666} {
		os.Chmod(key, mode)
		if _, err := readSiteKey(key); err == nil || !strings.Contains(err.Error(), "other users") {
			t.Errorf("mode %v: err = %v, want a refusal naming other users", mode, err)
		}
	}
	os.Chmod(key, 0o640)
	if _, err := readSiteKey(key); err != nil {
		t.Errorf("mode 0640 refused: %v", err)
	}
	os.WriteFile(key, []byte("not hex"), 0o600)
	if _, err := readSiteKey(key); err == nil || !strings.Contains(err.Error(), "not hex") {
		t.Errorf("garbage key: err = %v", err)
	}
}
