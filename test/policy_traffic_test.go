package test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// branchServer answers with its name, after reading the whole body.
func branchServer(t *testing.T, name string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// shadowServer counts the copies it gets and keeps their bodies. While slow is set it holds
// every copy until aya gives up on it.
type shadowServer struct {
	*httptest.Server
	arrived atomic.Int64
	slow    atomic.Bool
	mu      sync.Mutex
	bodies  []string
}

func newShadowServer(t *testing.T) *shadowServer {
	s := &shadowServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.arrived.Add(1)
		if r.Method == "POST" {
			s.mu.Lock()
			s.bodies = append(s.bodies, r.Header.Get("X-Body-ID")+"="+string(b))
			s.mu.Unlock()
		}
		if s.slow.Load() {
			select {
			case <-r.Context().Done():
			case <-time.After(4 * time.Second): // past the mirror timeout (2s) either way
			}
			return
		}
		io.WriteString(w, "shadow")
	}))
	t.Cleanup(s.Close)
	return s
}

// waitSettled waits until n stops growing (the copies are fire-and-forget) and returns it.
func waitSettled(n *atomic.Int64, limit time.Duration) int64 {
	deadline := time.Now().Add(limit)
	last := int64(-1)
	for time.Now().Before(deadline) {
		cur := n.Load()
		if cur == last {
			return cur
		}
		last = cur
		time.Sleep(300 * time.Millisecond)
	}
	return n.Load()
}

type answer struct {
	status       int
	body, canary string
	cookie       string
}

func get(t *testing.T, c *http.Client, method, url, body string, hdr ...string) answer {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, rd)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Errorf("%s %s: %v", method, url, err)
		return answer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: string(b), canary: resp.Header.Get("X-Aya-Canary"), cookie: resp.Header.Get("Set-Cookie")}
}

// TestPolicyTrafficCanaryAndMirror runs examples/policies-traffic.yaml over real backends.
func TestPolicyTrafficCanaryAndMirror(t *testing.T) {
	stable, next, shadow := branchServer(t, "stable"), branchServer(t, "next"), newShadowServer(t)
	example, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "policies-traffic.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	cfg := strings.NewReplacer(
		"127.0.0.1:8080", addr,
		"http://127.0.0.1:9001", stable.URL,
		"http://127.0.0.1:9002", next.URL,
		"http://127.0.0.1:9003", shadow.URL,
		"127.0.0.1:9901", "{{ADMIN}}",
	).Replace(string(example))
	p := startAya(t, cfg)
	base := "http://" + addr
	c := client() // no cookie jar: every request is a new client unless it sends a cookie

	t.Run("split", func(t *testing.T) {
		const n = 1000
		var mu sync.Mutex
		served := map[string]int{}
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += 8 {
					// Odd requests carry a body, which the mirror copies whole.
					method, body := "GET", ""
					if i%2 == 1 {
						method, body = "POST", fmt.Sprintf("order-%d", i)
					}
					a := get(t, c, method, base+"/cart", body, "X-Body-ID", fmt.Sprint(i))
					if a.status != 200 || a.body != a.canary || a.cookie != "aya_canary="+a.body+"; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400" {
						t.Errorf("request %d: %+v", i, a)
					}
					mu.Lock()
					served[a.body]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if served["stable"]+served["next"] != n || served["next"] < 50 || served["next"] > 170 {
			t.Errorf("served %v of %d requests, want about 10%% on next", served, n)
		}

		copies := waitSettled(&shadow.arrived, 15*time.Second)
		t.Logf("served %v; the shadow got %d copies", served, copies)
		if copies < 50 || copies > 170 {
			t.Errorf("the shadow got %d copies of %d requests, want about 10%%", copies, n)
		}
		shadow.mu.Lock()
		defer shadow.mu.Unlock()
		if len(shadow.bodies) == 0 {
			t.Error("no POST was mirrored")
		}
		for _, b := range shadow.bodies {
			id, body, _ := strings.Cut(b, "=")
			if body != "order-"+id {
				t.Errorf("copy of request %s carried body %q", id, body)
			}
		}
	})

	t.Run("header and cookie force the canary", func(t *testing.T) {
		for range 30 {
			for _, hdr := range [][]string{{"X-Canary", "on"}, {"Cookie", "canary=1"}} {
				a := get(t, c, "GET", base+"/", "", hdr...)
				if a.body != "next" || a.canary != "next" || a.cookie != "" {
					t.Fatalf("%v: %+v", hdr, a)
				}
			}
		}
	})

	t.Run("sticky cookie keeps a client on its branch", func(t *testing.T) {
		for _, branch := range []string{"stable", "next"} {
			for range 30 {
				a := get(t, c, "GET", base+"/", "", "Cookie", "session=x; aya_canary="+branch)
				if a.body != branch || a.cookie != "" {
					t.Fatalf("cookie %s: %+v", branch, a)
				}
			}
		}
	})

	t.Run("client_ip from a trusted proxy", func(t *testing.T) {
		a := get(t, c, "GET", base+"/", "", "X-Forwarded-For", "10.20.30.40")
		if a.body != "next" || a.canary != "" {
			t.Errorf("office client: %+v", a)
		}
	})

	t.Run("a slow shadow does not hold clients up", func(t *testing.T) {
		shadow.slow.Store(true)
		before := shadow.arrived.Load()
		var wg sync.WaitGroup
		var ok atomic.Int64
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < 400; i += 8 {
					if a := get(t, c, "GET", base+"/slow", ""); a.status == 200 && (a.body == "stable" || a.body == "next") {
						ok.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		if ok.Load() != 400 {
			t.Errorf("%d of 400 clients got their answer", ok.Load())
		}
		if shadow.arrived.Load() == before {
			t.Error("no copy reached the slow shadow")
		}
		// The copies time out (2s) in the background and are counted as failed.
		deadline := time.Now().Add(15 * time.Second)
		for {
			ss := parseMetrics(t, scrape(t, p.Admin, ""))
			failed, _ := value(ss, "aya_mirror_requests_total", map[string]string{"route": "shop", "upstream": "shadow", "result": "failed"})
			forced, _ := value(ss, "aya_canary_requests_total", map[string]string{"route": "shop", "upstream": "next", "reason": "header"})
			if failed > 0 && forced >= 30 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("metrics: mirror failed %v, canary forced by header %v", failed, forced)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

// writeMMDB writes a MaxMind country database mapping each CIDR to an ISO code.
func writeMMDB(t *testing.T, path string, nets map[string]string) {
	t.Helper()
	w, err := mmdbwriter.New(mmdbwriter.Options{DatabaseType: "GeoLite2-Country", RecordSize: 24})
	if err != nil {
		t.Fatal(err)
	}
	for cidr, code := range nets {
		_, n, err := net.ParseCIDR(cidr)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Insert(n, mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(code)}}); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if _, err := w.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.String())
}

func TestPolicyTrafficCountry(t *testing.T) {
	db := filepath.Join(t.TempDir(), "GeoLite2-Country.mmdb")
	writeMMDB(t, db, map[string]string{"81.2.69.0/24": "DE", "2.3.4.0/24": "FR", "2a02:1::/32": "NL"})
	eu, world := branchServer(t, "eu"), branchServer(t, "world")
	addr := freePort(t)
	startAya(t, `listeners: [{name: web, address: "`+addr+`", trusted_proxies: [127.0.0.1]}]
admin: {address: "{{ADMIN}}"}
geoip: {database: "`+db+`"}
upstreams:
  - {name: eu, targets: [{url: "`+eu.URL+`"}]}
  - {name: world, targets: [{url: "`+world.URL+`"}]}
routes:
  - {name: eu, match: {path: "/*", country: [de, FR, NL]}, upstream: eu}
  - {name: world, match: {path: "/*"}, upstream: world}
`)
	c := client()
	for _, tc := range []struct{ xff, want string }{
		{"81.2.69.7", "eu"},
		{"2.3.4.5", "eu"},
		{"2a02:1::9", "eu"},
		{"8.8.8.8", "world"},
		{"", "world"},                   // the proxy itself (127.0.0.1) has no country
		{"81.2.69.7, 8.8.8.8", "world"}, // the right-most untrusted hop is the client
	} {
		var hdr []string
		if tc.xff != "" {
			hdr = []string{"X-Forwarded-For", tc.xff}
		}
		if a := get(t, c, "GET", "http://"+addr+"/", "", hdr...); a.body != tc.want {
			t.Errorf("X-Forwarded-For %q: served by %q, want %s", tc.xff, a.body, tc.want)
		}
	}
}
