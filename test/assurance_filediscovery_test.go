package test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestFileDiscovery: an upstream's targets come from a targets file; rewriting the file moves
// traffic within moments and a broken file changes nothing.
func TestFileDiscovery(t *testing.T) {
	b1, b2 := startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0")
	dir := t.TempDir()
	targets := filepath.Join(dir, "targets.yaml")
	write := func(data string) {
		t.Helper()
		writeFile(t, targets+".tmp", data)
		if err := os.Rename(targets+".tmp", targets); err != nil {
			t.Fatal(err)
		}
	}
	write(fmt.Sprintf("- %s\n", b1.url()))
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams:
  - name: app
    targets: []
    discovery: {file: {path: %q, refresh: 10s}}
routes: [{name: r, match: {path: "/*"}, upstream: app}]
admin: {address: "{{ADMIN}}"}
`, web, targets))
	l := startLoad(t, "http://"+web+"/x", 2, nil)
	time.Sleep(300 * time.Millisecond)
	if c := l.counts(); c["b1"] == 0 || c["b2"] != 0 {
		t.Fatalf("from the first file: %v", c)
	}

	write(fmt.Sprintf("- {url: %q, weight: 1}\n", b2.url()))
	start := time.Now()
	for {
		time.Sleep(100 * time.Millisecond)
		l.counts()
		time.Sleep(200 * time.Millisecond)
		if c := l.counts(); c["b1"] == 0 && c["b2"] > 0 {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("traffic did not move to the file's new target")
		}
	}
	t.Logf("file changed: traffic moved within %v", time.Since(start).Round(10*time.Millisecond))

	write("not: [a list\n")
	time.Sleep(500 * time.Millisecond)
	l.counts()
	time.Sleep(300 * time.Millisecond)
	l.end()
	if c := l.counts(); c["b2"] == 0 || c["b1"] != 0 {
		t.Fatalf("after a broken file: %v", c)
	}
	// The file watcher must not hold up a graceful stop.
	if code := p.stop(5 * time.Second); code != 0 {
		t.Fatalf("aya exited with %d", code)
	}
	if n := l.failed.Load(); n != 0 {
		t.Fatalf("%d client errors (first: %v)", n, l.firstErr.Load())
	}
}
