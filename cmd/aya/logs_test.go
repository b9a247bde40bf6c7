package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aya/internal/config"
)

func TestLogOutput(t *testing.T) {
	var stderr bytes.Buffer
	w, closeLog, err := logOutput(config.Log{Output: "stderr"}, &stderr)
	if err != nil || w != &stderr {
		t.Fatalf("stderr: %v %v", w, err)
	}
	closeLog()

	path := filepath.Join(t.TempDir(), "aya.log")
	w, closeLog, err = logOutput(config.Log{Output: path, Format: "json", Level: "info", MaxSize: 1 << 20, MaxFiles: 1}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	newLogger(config.Log{Format: "json", Level: "info"}, w).Error("reload refused", "error", "x.yaml:3: bad")
	closeLog()
	b, _ := os.ReadFile(path)
	if !strings.Contains(string(b), `"msg":"reload refused"`) || stderr.Len() != 0 {
		t.Fatalf("file %q, stderr %q", b, stderr.String())
	}
	if _, _, err := logOutput(config.Log{Output: filepath.Join(t.TempDir(), "no", "dir.log")}, &stderr); err == nil {
		t.Fatal("a missing directory must fail")
	}
}
