package upstream

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"aya/internal/balance"
	"aya/internal/config"
)

func countingFactory(built *atomic.Int64) TargetFactory {
	return func(tc config.Target) (*Target, error) {
		built.Add(1)
		return &Target{Name: tc.URL, Balance: balance.NewTarget(tc.URL, tc.Weight), Transport: &nopTransport{}}, nil
	}
}

// waitNames waits until the live pool of the registry's upstream u lists want.
func waitNames(t *testing.T, reg *Registry, want string) *Pool {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		us, _ := reg.live("u")
		us.mu.Lock()
		p := us.pools[0]
		us.mu.Unlock()
		if names(p) == want {
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("targets %s, want %s", names(p), want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeAtomic(t *testing.T, path, data string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestFileDiscovery(t *testing.T) {
	for _, tc := range []struct {
		name    string
		dir     bool
		refresh time.Duration
	}{
		{"file watched", false, time.Hour},
		{"directory polled", true, 50 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			path := filepath.Join(root, "targets.yaml")
			watch := path
			if tc.dir {
				watch = filepath.Join(root, "targets.d")
				os.Mkdir(watch, 0o755)
				path = filepath.Join(watch, "a.yaml")
				writeAtomic(t, filepath.Join(watch, "b.json"), `["http://z:1"]`)
				writeAtomic(t, filepath.Join(watch, "ignored.txt"), `- http://ignored:1`)
			}
			writeAtomic(t, path, "- http://a:1\n- {url: \"http://b:1\", weight: 2}\n")
			reg := NewRegistry(quiet)
			defer reg.Close()
			u := config.Upstream{Name: "u", Targets: []config.Target{{URL: "http://file:1", Weight: 1}},
				Discovery: &config.Discovery{File: &config.FileDiscovery{Path: watch, Refresh: config.Duration(tc.refresh)}}}
			var built atomic.Int64
			p, err := reg.Pool(&u, rr, countingFactory(&built))
			if err != nil {
				t.Fatal(err)
			}
			extra := ""
			if tc.dir {
				extra = ",http://z:1"
			}
			if names(p) != "http://file:1,http://a:1,http://b:1"+extra {
				t.Fatalf("first pool: %s", names(p))
			}
			reg.Activate([]*Pool{p})
			b := p.Targets()[2]

			writeAtomic(t, path, "- {url: \"http://b:1\", weight: 2}\n- http://c:1\n")
			waitNames(t, reg, "http://file:1,http://b:1,http://c:1"+extra)
			if p.Targets()[1] != b {
				t.Fatal("an unchanged target was rebuilt (its connections lost)")
			}
			n := built.Load()

			writeAtomic(t, path, "- {url: nope}\n")
			time.Sleep(300 * time.Millisecond)
			if names(p) != "http://file:1,http://b:1,http://c:1"+extra || built.Load() != n {
				t.Fatalf("a bad file changed the targets: %s", names(p))
			}
			writeAtomic(t, path, "[]\n")
			waitNames(t, reg, "http://file:1"+extra)
		})
	}
}
