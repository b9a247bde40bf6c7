package test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// cacheOrigin is the backend behind the cache example: each path shows one caching
// behaviour, and it counts what it serves per path (and the 304s it answers).
type cacheOrigin struct {
	mu      sync.Mutex
	hits    map[string]int
	n304    int
	srv     *http.Server
	addr    string
	version string
}

func startCacheOrigin(t *testing.T) *cacheOrigin {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	o := &cacheOrigin{hits: map[string]int{}, addr: ln.Addr().String(), version: "v1"}
	o.srv = &http.Server{Handler: http.HandlerFunc(o.serve), ReadHeaderTimeout: 5 * time.Second}
	go o.srv.Serve(ln)
	t.Cleanup(func() { o.srv.Close() })
	return o
}

func (o *cacheOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.hits[path]
}

func (o *cacheOrigin) serve(w http.ResponseWriter, r *http.Request) {
	o.mu.Lock()
	o.hits[r.URL.Path]++
	n := o.hits[r.URL.Path]
	version := o.version
	o.mu.Unlock()
	h := w.Header()
	short := "max-age=1, stale-while-revalidate=0"
	switch {
	case r.URL.Path == "/fresh":
		h.Set("Cache-Control", "max-age=60")
	case r.URL.Path == "/short":
		h.Set("Cache-Control", short)
	case r.URL.Path == "/nostore":
		h.Set("Cache-Control", "no-store")
	case r.URL.Path == "/vary":
		h.Set("Cache-Control", "max-age=60")
		h.Set("Vary", "Accept-Language")
		io.WriteString(w, "lang="+r.Header.Get("Accept-Language"))
		return
	case r.URL.Path == "/etag":
		h.Set("Cache-Control", short)
		h.Set("ETag", `"`+version+`"`)
		if r.Header.Get("If-None-Match") == `"`+version+`"` {
			o.mu.Lock()
			o.n304++
			o.mu.Unlock()
			w.WriteHeader(304)
			return
		}
	case r.URL.Path == "/slow":
		h.Set("Cache-Control", "max-age=60")
		time.Sleep(300 * time.Millisecond)
	case strings.HasPrefix(r.URL.Path, "/api/p/"):
		h.Set("Cache-Control", "max-age=60")
		h.Set("Surrogate-Key", "product-"+strings.TrimPrefix(r.URL.Path, "/api/p/")+" products")
	case r.URL.Path == "/web/home":
		h.Set("Cache-Control", "max-age=60")
		h.Set("Surrogate-Key", "home")
	case r.URL.Path == "/sie":
		h.Set("Cache-Control", short)
	}
	io.WriteString(w, r.URL.Path+" "+version+" #"+strconv.Itoa(n))
}

type cacheAnswer struct {
	status int
	xcache string
	age    string
	body   string
}

func cacheGet(t *testing.T, c *http.Client, url string, header ...string) cacheAnswer {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return cacheAnswer{resp.StatusCode, resp.Header.Get("X-Cache"), resp.Header.Get("Age"), string(b)}
}

func cachePurge(t *testing.T, admin, body string) int {
	t.Helper()
	resp, err := http.Post("http://"+admin+"/cache/purge", "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Purged int }
	if resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("purge %s: %d %s", body, resp.StatusCode, b)
	}
	if err := jsonDecode(resp, &out); err != nil {
		t.Fatal(err)
	}
	return out.Purged
}

// TestPolicyCache runs examples/policies-cache.yaml over a counting backend.
func TestPolicyCache(t *testing.T) {
	origin := startCacheOrigin(t)
	example, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "policies-cache.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	web := freePort(t)
	cfg := strings.NewReplacer("127.0.0.1:8080", web, "127.0.0.1:9001", origin.addr, "127.0.0.1:9901", "{{ADMIN}}").Replace(string(example))
	p := startAya(t, cfg)
	base := "http://" + web
	c := client()

	expect := func(a cacheAnswer, xcache, body string) {
		t.Helper()
		if a.status != 200 || a.xcache != xcache || (body != "" && a.body != body) {
			t.Fatalf("got %d X-Cache=%q %q, want 200 %q %q", a.status, a.xcache, a.body, xcache, body)
		}
	}

	t.Run("miss then hit", func(t *testing.T) {
		expect(cacheGet(t, c, base+"/fresh"), "MISS", "/fresh v1 #1")
		a := cacheGet(t, c, base+"/fresh")
		expect(a, "HIT", "/fresh v1 #1")
		if a.age == "" {
			t.Fatal("a hit has no Age")
		}
		expect(cacheGet(t, c, base+"/fresh?x=1"), "MISS", "/fresh v1 #2")
		expect(cacheGet(t, c, base+"/fresh", "X-Tenant", "acme"), "MISS", "/fresh v1 #3")
	})
	t.Run("max-age expiry", func(t *testing.T) {
		expect(cacheGet(t, c, base+"/short"), "MISS", "/short v1 #1")
		expect(cacheGet(t, c, base+"/short"), "HIT", "/short v1 #1")
		time.Sleep(2100 * time.Millisecond)
		expect(cacheGet(t, c, base+"/short"), "MISS", "/short v1 #2")
	})
	t.Run("no-store", func(t *testing.T) {
		expect(cacheGet(t, c, base+"/nostore"), "MISS", "/nostore v1 #1")
		expect(cacheGet(t, c, base+"/nostore"), "MISS", "/nostore v1 #2")
		expect(cacheGet(t, c, base+"/fresh", "Cache-Control", "no-store"), "BYPASS", "")
	})
	t.Run("vary", func(t *testing.T) {
		expect(cacheGet(t, c, base+"/vary", "Accept-Language", "en"), "MISS", "lang=en")
		expect(cacheGet(t, c, base+"/vary", "Accept-Language", "fr"), "MISS", "lang=fr")
		expect(cacheGet(t, c, base+"/vary", "Accept-Language", "en"), "HIT", "lang=en")
		expect(cacheGet(t, c, base+"/vary", "Accept-Language", "fr"), "HIT", "lang=fr")
	})
	t.Run("etag revalidation", func(t *testing.T) {
		expect(cacheGet(t, c, base+"/etag"), "MISS", "/etag v1 #1")
		time.Sleep(2100 * time.Millisecond)
		expect(cacheGet(t, c, base+"/etag"), "HIT", "/etag v1 #1")
		origin.mu.Lock()
		n304 := origin.n304
		origin.mu.Unlock()
		if n304 != 1 || origin.count("/etag") != 2 {
			t.Fatalf("backend answered %d requests, %d of them 304; want 2 and 1", origin.count("/etag"), n304)
		}
		// The client's own validator is answered from the cache.
		if a := cacheGet(t, c, base+"/etag", "If-None-Match", `"v1"`); a.status != 304 || a.xcache != "HIT" {
			t.Fatalf("conditional request got %d %q, want 304 HIT", a.status, a.xcache)
		}
	})
	t.Run("coalescing", func(t *testing.T) {
		const clients = 200
		cc := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients, MaxConnsPerHost: clients}}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range clients {
			wg.Go(func() {
				<-start
				resp, err := cc.Get(base + "/slow")
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(b) != "/slow v1 #1" {
					t.Errorf("got %d %q", resp.StatusCode, b)
				}
			})
		}
		close(start)
		wg.Wait()
		if n := origin.count("/slow"); n != 1 {
			t.Fatalf("%d concurrent requests made %d backend requests, want 1", clients, n)
		}
	})
	t.Run("purge", func(t *testing.T) {
		for _, path := range []string{"/api/p/42", "/api/p/43", "/web/home"} {
			expect(cacheGet(t, c, base+path), "MISS", "")
			expect(cacheGet(t, c, base+path), "HIT", "")
		}
		if n := cachePurge(t, p.Admin, `{"tag": "product-42"}`); n != 1 {
			t.Fatalf("purge by tag removed %d, want 1", n)
		}
		expect(cacheGet(t, c, base+"/api/p/42"), "MISS", "/api/p/42 v1 #2")
		expect(cacheGet(t, c, base+"/api/p/43"), "HIT", "/api/p/43 v1 #1")
		if n := cachePurge(t, p.Admin, `{"prefix": "/api/"}`); n != 2 {
			t.Fatalf("purge by prefix removed %d, want 2", n)
		}
		expect(cacheGet(t, c, base+"/api/p/43"), "MISS", "/api/p/43 v1 #2")
		expect(cacheGet(t, c, base+"/web/home"), "HIT", "/web/home v1 #1")
		if n := cachePurge(t, p.Admin, `{"key": "GET `+web+`/web/home"}`); n != 1 {
			t.Fatalf("purge by key removed %d, want 1", n)
		}
		resp, err := http.Post("http://"+p.Admin+"/cache/purge", "application/json", strings.NewReader(`{"tag": "a", "all": true}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Fatalf("an ambiguous purge got %d, want 400", resp.StatusCode)
		}
		resp, err = http.Get("http://" + p.Admin + "/cache")
		if err != nil {
			t.Fatal(err)
		}
		var st struct{ Entries, Bytes, Hits, Misses int }
		if err := jsonDecode(resp, &st); err != nil {
			t.Fatal(err)
		}
		if st.Entries == 0 || st.Bytes == 0 || st.Hits == 0 || st.Misses == 0 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("reload keeps the store", func(t *testing.T) {
		expect(cacheGet(t, c, base+"/fresh"), "HIT", "/fresh v1 #1")
		p.rewrite(strings.Replace(cfg, "ttl: 60s", "ttl: 30s", 1))
		resp, err := http.Post("http://"+p.Admin+"/reload", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("reload: %d", resp.StatusCode)
		}
		expect(cacheGet(t, c, base+"/fresh"), "HIT", "/fresh v1 #1")
	})
	t.Run("stale-if-error", func(t *testing.T) {
		expect(cacheGet(t, c, base+"/sie"), "MISS", "/sie v1 #1")
		origin.srv.Close() // the backend dies
		time.Sleep(2100 * time.Millisecond)
		expect(cacheGet(t, c, base+"/sie"), "STALE", "/sie v1 #1")
		if a := cacheGet(t, c, base+"/never-cached"); a.status < 500 {
			t.Fatalf("an uncached path got %d with the backend gone", a.status)
		}
	})
}
