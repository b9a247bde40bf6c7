package test

import (
	"fmt"
	"io"
	"math"
	"sync"
	"testing"
	"time"

	"aya/internal/demo"
)

// TestAlgorithmsDistribute drives every algorithm through the real gateway and checks the share
// each backend gets: weighted ones by weight, hashing ones stable per key.
func TestAlgorithmsDistribute(t *testing.T) {
	b := backends(t, 3)
	web := freePort(t)
	algos := []string{"round_robin", "weighted_round_robin", "least_conn", "weighted_least_conn", "random", "p2c", "least_time", "ip_hash", "consistent_hash", "maglev"}
	cfg := fmt.Sprintf("listeners: [{name: web, address: %q}]\nupstreams:\n", web)
	for _, a := range algos {
		key := ""
		if a == "consistent_hash" || a == "maglev" {
			key = ", hash_key: \"header:X-User\""
		}
		cfg += fmt.Sprintf("  - {name: %s, balance: %s%s, targets: [{url: \"http://%s\", weight: 4}, {url: \"http://%s\", weight: 2}, {url: \"http://%s\", weight: 2}]}\n", a, a, key, b[0], b[1], b[2])
	}
	cfg += "routes:\n"
	for _, a := range algos {
		cfg += fmt.Sprintf("  - {name: %s, match: {path: \"/%s/*\"}, upstream: %s}\n", a, a, a)
	}
	cfg += "admin: {address: \"{{ADMIN}}\"}\n"
	startAya(t, cfg)
	c := client()

	count := func(algo string, n int, user func(i int) string) map[string]int {
		seen := map[string]int{}
		for i := 0; i < n; i++ {
			req := mustReq(t, "GET", "http://"+web+"/"+algo+"/x", nil)
			if user != nil {
				req.Header.Set("X-User", user(i))
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			seen[resp.Header.Get(demo.BackendHeader)]++
		}
		return seen
	}
	near := func(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

	for _, a := range []string{"weighted_round_robin"} {
		seen := count(a, 800, nil)
		if seen["b1"] != 400 || seen["b2"] != 200 || seen["b3"] != 200 {
			t.Errorf("%s: %v, want exactly 400/200/200", a, seen)
		}
	}
	seen := count("round_robin", 300, nil)
	if seen["b1"] != 100 || seen["b2"] != 100 || seen["b3"] != 100 {
		t.Errorf("round_robin: %v", seen)
	}
	// Sequential requests leave every target idle, so the least-loaded ones spread evenly.
	for _, a := range []string{"least_conn", "p2c", "random", "least_time"} {
		seen := count(a, 300, nil)
		if len(seen) != 3 {
			t.Errorf("%s used %d targets: %v", a, len(seen), seen)
		}
	}
	// ip_hash: one client IP, one backend.
	if seen := count("ip_hash", 50, nil); len(seen) != 1 {
		t.Errorf("ip_hash spread one client over %v", seen)
	}
	// Hashing on a header: the same user always lands on the same backend, and many users
	// spread roughly by weight (4:2:2).
	for _, a := range []string{"consistent_hash", "maglev"} {
		if seen := count(a, 20, func(int) string { return "alice" }); len(seen) != 1 {
			t.Errorf("%s moved one user across %v", a, seen)
		}
		seen := count(a, 1200, func(i int) string { return fmt.Sprintf("user-%d", i) })
		if !near(float64(seen["b1"])/1200, 0.5, 0.08) {
			t.Errorf("%s: b1 got %v of 1200, want about half", a, seen)
		}
	}
}

// TestLeastTimeAvoidsSlowTarget checks least_time moves load off a target that turns slow
// within about a second.
func TestLeastTimeAvoidsSlowTarget(t *testing.T) {
	fast := backends(t, 2)
	slow := backends(t, 1, func(o *demo.EchoOptions) { o.Name = "slow"; o.Latency = 150 * time.Millisecond })
	web := freePort(t)
	startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams: [{name: u, balance: least_time, targets: [{url: "http://%s"}, {url: "http://%s"}, {url: "http://%s"}]}]
routes: [{name: r, match: {path: "/*"}, upstream: u}]
admin: {address: "{{ADMIN}}"}
`, web, fast[0], fast[1], slow[0]))
	c := client()
	var mu sync.Mutex
	late := map[string]int{}
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Since(start) < 2*time.Second {
				resp, err := c.Get("http://" + web + "/x")
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if time.Since(start) > time.Second {
					mu.Lock()
					late[resp.Header.Get(demo.BackendHeader)]++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	total := late["b1"] + late["b2"] + late["slow"]
	if total == 0 {
		t.Fatal("no requests in the second second")
	}
	if share := float64(late["slow"]) / float64(total); share > 0.05 {
		t.Fatalf("slow target still got %.1f%% of requests after 1s: %v", share*100, late)
	}
}
