package test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"aya/internal/demo"
)

// TestStickyCookie: a client with aya's cookie stays on one target for 100 requests, and
// moves (with a new cookie) when that target dies.
func TestStickyCookie(t *testing.T) {
	bs := []*backend{startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0"), startBackend(t, "b3", "127.0.0.1:0")}
	web := freePort(t)
	const interval = 300 * time.Millisecond
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams:
  - name: app
    targets: ["%s", "%s", "%s"]
    health: {path: /healthz, interval: %v, timeout: 200ms, fall: 2}
    sticky: {cookie: {name: aya_s, ttl: 1h}}
routes: [{name: r, match: {path: "/*"}, upstream: app}]
admin: {address: "{{ADMIN}}"}
`, web, bs[0].url(), bs[1].url(), bs[2].url(), interval))
	c := client()
	get := func(cookie string) (backend, setCookie string) {
		req := mustReq(t, "GET", "http://"+web+"/x", nil)
		if cookie != "" {
			req.Header.Set("Cookie", cookie)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		return resp.Header.Get(demo.BackendHeader), resp.Header.Get("Set-Cookie")
	}
	home, set := get("")
	if !strings.HasPrefix(set, "aya_s=") || !strings.Contains(set, "Max-Age=3600") || !strings.Contains(set, "HttpOnly") {
		t.Fatalf("Set-Cookie %q", set)
	}
	cookie := strings.Split(set, ";")[0]
	for i := 0; i < 100; i++ {
		if b, again := get(cookie); b != home || again != "" {
			t.Fatalf("request %d went to %s (cookie %q), not %s", i, b, again, home)
		}
	}
	var victim *backend
	for _, b := range bs {
		if b.name == home {
			victim = b
		}
	}
	victim.stop()
	took := waitState(t, p.Admin, "app", victim.url(), "unhealthy", 3*interval*2)
	moved, newSet := get(cookie)
	if moved == home || !strings.HasPrefix(newSet, "aya_s=") {
		t.Fatalf("after %s died: went to %s with Set-Cookie %q", home, moved, newSet)
	}
	cookie = strings.Split(newSet, ";")[0]
	for i := 0; i < 20; i++ {
		if b, _ := get(cookie); b != moved {
			t.Fatalf("the new cookie did not stick: %s, want %s", b, moved)
		}
	}
	t.Logf("scenario 5: 122 requests, 0 client errors; 100 on %s, moved to %s %v after it died", home, moved, took.Round(time.Millisecond))
}

// TestDrainFinishesInFlight: draining a target through the admin API stops new requests to
// it while its long requests in flight finish normally.
func TestDrainFinishesInFlight(t *testing.T) {
	b1, b2 := startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0")
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams: [{name: app, targets: ["%s", "%s"]}]
routes: [{name: r, match: {path: "/*"}, upstream: app}]
admin: {address: "{{ADMIN}}"}
`, web, b1.url(), b2.url()))
	c := client()
	var wg sync.WaitGroup
	var mu sync.Mutex
	got := map[string]int{}
	var failures []string
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get("http://" + web + "/delay/2s")
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err.Error())
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				failures = append(failures, resp.Status)
			}
			got[resp.Header.Get(demo.BackendHeader)]++
		}()
	}
	deadline := time.Now().Add(2 * time.Second)
	for targetState(t, p.Admin, "app", b1.url()).InFlight == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no request in flight on b1")
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Post("http://"+p.Admin+"/upstreams/app/drain?target="+b1.url(), "", nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("drain: %v %v", resp, err)
	}
	resp.Body.Close()
	st := targetState(t, p.Admin, "app", b1.url())
	if st.State != "draining" || st.InFlight == 0 {
		t.Fatalf("after drain: %+v", st)
	}
	for i := 0; i < 20; i++ {
		if b, _ := getBackend(t, c, "http://"+web+"/x"); b != "b2" {
			t.Fatalf("a new request went to the draining target")
		}
	}
	wg.Wait()
	if len(failures) > 0 || got["b1"] == 0 {
		t.Fatalf("in-flight requests: %v failures %v", got, failures)
	}
	if st := targetState(t, p.Admin, "app", b1.url()); st.InFlight != 0 {
		t.Fatalf("drained target still has %d in flight", st.InFlight)
	}
	t.Logf("scenario 6: %d long requests in flight on the drained target finished with 200, 0 client errors; 20 new requests all went to b2", got["b1"])
	resp, _ = http.Post("http://"+p.Admin+"/upstreams/app/drain?target=http://nope:1", "", nil)
	if resp.StatusCode != 404 {
		t.Fatalf("drain of an unknown target: %d", resp.StatusCode)
	}
	resp.Body.Close()
}

func getBackend(t *testing.T, c *http.Client, url string) (string, int) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.Header.Get(demo.BackendHeader), resp.StatusCode
}
