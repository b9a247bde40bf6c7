package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDataDir(t *testing.T) {
	dir := t.TempDir()
	base := "listeners: [{name: web, address: \"127.0.0.1:8080\"}]\n"
	cfg, err := Parse(filepath.Join(dir, "aya.yaml"), []byte(base+"data_dir: state\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != filepath.Join(dir, "state") {
		t.Fatalf("data_dir resolved to %q", cfg.DataDir)
	}
	file := filepath.Join(dir, "afile")
	os.WriteFile(file, []byte("x"), 0o600)
	_, err = Parse(filepath.Join(dir, "aya.yaml"), []byte(base+"data_dir: afile\n"))
	if err == nil || !strings.Contains(err.Error(), "aya.yaml:2: data_dir") || !strings.Contains(err.Error(), "is a file") {
		t.Fatalf("a file as data_dir: %v", err)
	}
}
