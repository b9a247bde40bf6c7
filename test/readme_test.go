package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"aya/internal/demo"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// validateIn writes a config into a fresh directory that also holds the certificate files the
// docs' examples name (site.pem/site.key, cert.pem/key.pem), then runs `aya validate` on it.
func validateIn(t *testing.T, name, config string) {
	t.Helper()
	dir := t.TempDir()
	_, certPEM, keyPEM, err := demo.SelfSigned("localhost")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"site", "cert", "a"} {
		writeFile(t, filepath.Join(dir, n+".pem"), string(certPEM))
		writeFile(t, filepath.Join(dir, n+".key"), string(keyPEM))
	}
	writeFile(t, filepath.Join(dir, "key.pem"), string(keyPEM))
	path := filepath.Join(dir, name)
	writeFile(t, path, config)
	out, err := exec.Command(ayaBin(t), "validate", "-c", path).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "ok" {
		t.Fatalf("%s does not validate: %v\n%s\n--- config:\n%s", name, err, out, config)
	}
}

// TestReadmeConfigsValidate keeps README honest: every YAML block in it is a valid config.
func TestReadmeConfigsValidate(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllStringSubmatch(string(data), -1)
	if len(blocks) == 0 {
		t.Fatal("no yaml blocks in README")
	}
	for i, b := range blocks {
		validateIn(t, "readme-"+string(rune('a'+i))+".yaml", b[1])
	}
}

// TestExamplesValidate checks every config in examples/.
func TestExamplesValidate(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(repoRoot(), "examples", "*.yaml"))
	if len(files) == 0 {
		t.Fatal("no examples")
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		validateIn(t, filepath.Base(f), string(data))
	}
}
