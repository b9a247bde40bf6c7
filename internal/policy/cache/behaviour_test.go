package cache

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aya/internal/httpx"
)

// etagOrigin answers v1 with an ETag and max-age=10, and 304 to a matching If-None-Match.
func etagOrigin(notModified *atomic.Int64) func(w httpx.ResponseWriter, r *httpx.Request) {
	return func(w httpx.ResponseWriter, r *httpx.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` {
			notModified.Add(1)
			answer(w, 304, "", "ETag", `"v1"`, "Cache-Control", "max-age=10")
			return
		}
		answer(w, 200, "body", "ETag", `"v1"`, "Cache-Control", "max-age=10", "X-Origin", "yes")
	}
}

func TestRevalidationWithETag(t *testing.T) {
	var n304 atomic.Int64
	g := newRig(t, Options{}, etagOrigin(&n304))
	g.expect(g.do("GET", "/a"), 200, "MISS", "body")
	g.clock.advance(11 * time.Second)
	rw := g.do("GET", "/a")
	g.expect(rw, 200, "HIT", "body")
	if n304.Load() != 1 || g.o.calls.Load() != 2 {
		t.Fatalf("304s %d, calls %d: want one conditional request", n304.Load(), g.o.calls.Load())
	}
	if rw.header.Get("X-Origin") != "yes" || rw.header.Count("ETag") != 1 {
		t.Fatalf("refreshed entry lost or doubled fields: %v", rw.header)
	}
	// The 304 made it fresh again for 10s.
	g.clock.advance(9 * time.Second)
	g.expect(g.do("GET", "/a"), 200, "HIT", "body")
	if g.o.calls.Load() != 2 {
		t.Fatalf("calls %d after the refresh, want 2", g.o.calls.Load())
	}
}

func TestRevalidationWithLastModified(t *testing.T) {
	const lm = "Thu, 01 Jan 2026 00:00:00 GMT"
	var n304 atomic.Int64
	g := newRig(t, Options{}, func(w httpx.ResponseWriter, r *httpx.Request) {
		if r.Header.Get("If-Modified-Since") == lm {
			n304.Add(1)
			answer(w, 304, "", "Cache-Control", "max-age=5")
			return
		}
		answer(w, 200, "body", "Last-Modified", lm, "Cache-Control", "max-age=5")
	})
	g.expect(g.do("GET", "/a"), 200, "MISS", "body")
	g.clock.advance(6 * time.Second)
	g.expect(g.do("GET", "/a"), 200, "HIT", "body")
	if n304.Load() != 1 {
		t.Fatalf("304s %d, want 1", n304.Load())
	}
}

func TestClientConditionalsAnsweredFromCache(t *testing.T) {
	var n304 atomic.Int64
	g := newRig(t, Options{}, etagOrigin(&n304))
	// A conditional miss goes upstream unconditionally, so the answer can be stored.
	g.expect(g.do("GET", "/a", "If-None-Match", `"v1"`), 200, "MISS", "body")
	tests := []struct {
		name   string
		fields []string
		status int
	}{
		{"matching etag", []string{"If-None-Match", `"v1"`}, 304},
		{"weak matching etag", []string{"If-None-Match", `W/"v1"`}, 304},
		{"one of a list", []string{"If-None-Match", `"x", "v1"`}, 304},
		{"star", []string{"If-None-Match", `*`}, 304},
		{"other etag", []string{"If-None-Match", `"v2"`}, 200},
		{"no validators", nil, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rw := g.do("GET", "/a", tt.fields...)
			if rw.status != tt.status || rw.header.Get("X-Cache") != "HIT" {
				t.Fatalf("got %d %q, want %d HIT", rw.status, rw.header.Get("X-Cache"), tt.status)
			}
			if tt.status == 304 && (rw.body.Len() != 0 || rw.header.Get("ETag") != `"v1"` || rw.header.Has("X-Origin")) {
				t.Fatalf("304 carries body %q or wrong fields %v", rw.body.String(), rw.header)
			}
		})
	}
	if n304.Load() != 0 || g.o.calls.Load() != 1 {
		t.Fatalf("origin saw %d calls (%d conditional), want 1 (0)", g.o.calls.Load(), n304.Load())
	}
}

func TestVaryKeepsVariants(t *testing.T) {
	g := newRig(t, Options{}, func(w httpx.ResponseWriter, r *httpx.Request) {
		answer(w, 200, "lang="+r.Header.Get("Accept-Language"), "Vary", "Accept-Language", "Cache-Control", "max-age=60")
	})
	g.expect(g.do("GET", "/a", "Accept-Language", "en"), 200, "MISS", "lang=en")
	g.expect(g.do("GET", "/a", "Accept-Language", "fr"), 200, "MISS", "lang=fr")
	g.expect(g.do("GET", "/a", "Accept-Language", "en"), 200, "HIT", "lang=en")
	g.expect(g.do("GET", "/a", "Accept-Language", "fr"), 200, "HIT", "lang=fr")
	g.expect(g.do("GET", "/a"), 200, "MISS", "lang=")
	if g.o.calls.Load() != 3 {
		t.Fatalf("calls %d, want 3", g.o.calls.Load())
	}
	// A purge of the URL drops the marker and every variant.
	if n := g.store.Purge(Selector{Key: "GET example.com/a"}); n != 3 {
		t.Fatalf("purged %d, want 3 variants", n)
	}
	g.expect(g.do("GET", "/a", "Accept-Language", "en"), 200, "MISS", "lang=en")
}

func TestStaleWhileRevalidate(t *testing.T) {
	var version atomic.Int64
	version.Store(1)
	release := make(chan struct{})
	g := newRig(t, Options{StaleWhileRevalidate: 30 * time.Second}, func(w httpx.ResponseWriter, r *httpx.Request) {
		if version.Load() > 1 {
			<-release
		}
		answer(w, 200, "v"+itoa(int(version.Load())), "Cache-Control", "max-age=10")
	})
	g.expect(g.do("GET", "/a"), 200, "MISS", "v1")
	version.Store(2)
	g.clock.advance(15 * time.Second)
	// Stale within the window: served at once, one refresh in the background however many ask.
	for range 5 {
		g.expect(g.do("GET", "/a"), 200, "STALE", "v1")
	}
	close(release)
	waitFor(t, func() bool {
		e := g.cache.lookup(&scratch{}, request("GET", "/a"), "GET", g.clock.now())
		return e != nil && string(e.body) == "v2"
	})
	if c := g.o.calls.Load(); c != 2 {
		t.Fatalf("origin calls %d, want 2 (one background refresh)", c)
	}
	g.expect(g.do("GET", "/a"), 200, "HIT", "v2")
	// Past the window it is a plain miss.
	g.clock.advance(45 * time.Second)
	g.expect(g.do("GET", "/a"), 200, "MISS", "v2")
}

func TestStaleWhileRevalidateFromResponse(t *testing.T) {
	g := newRig(t, Options{}, func(w httpx.ResponseWriter, r *httpx.Request) {
		answer(w, 200, "v", "Cache-Control", "max-age=10, stale-while-revalidate=20")
	})
	g.expect(g.do("GET", "/a"), 200, "MISS", "v")
	g.clock.advance(15 * time.Second)
	g.expect(g.do("GET", "/a"), 200, "STALE", "v")
	g.cache.Close() // waits for the background refresh
}

func TestStaleIfError(t *testing.T) {
	var down atomic.Bool
	opts := Options{StaleIfError: time.Minute}
	g := newRig(t, opts, func(w httpx.ResponseWriter, r *httpx.Request) {
		if down.Load() {
			answer(w, 502, `{"error":"upstream connect failed"}`)
			return
		}
		answer(w, 200, "v", "Cache-Control", "max-age=10")
	})
	g.expect(g.do("GET", "/a"), 200, "MISS", "v")
	down.Store(true)
	g.clock.advance(20 * time.Second)
	rw := g.do("GET", "/a")
	g.expect(rw, 200, "STALE", "v")
	if rw.header.Get("Age") != "20" {
		t.Fatalf("Age %q, want 20", rw.header.Get("Age"))
	}
	g.clock.advance(time.Minute)
	g.expect(g.do("GET", "/a"), 502, "MISS", `{"error":"upstream connect failed"}`)
}

func TestMustRevalidateNeverServesStale(t *testing.T) {
	var down atomic.Bool
	g := newRig(t, Options{StaleIfError: time.Minute, StaleWhileRevalidate: time.Minute}, func(w httpx.ResponseWriter, r *httpx.Request) {
		if down.Load() {
			answer(w, 503, "down")
			return
		}
		answer(w, 200, "v", "Cache-Control", "max-age=10, must-revalidate")
	})
	g.expect(g.do("GET", "/a"), 200, "MISS", "v")
	down.Store(true)
	g.clock.advance(20 * time.Second)
	g.expect(g.do("GET", "/a"), 503, "MISS", "down")
}

func TestCoalescing(t *testing.T) {
	const clients = 1000
	var arrived atomic.Int64
	g := newRig(t, Options{}, func(w httpx.ResponseWriter, r *httpx.Request) {
		// Hold the one upstream call until every client has asked (or a bound passes).
		deadline := time.Now().Add(5 * time.Second)
		for arrived.Load() < clients && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		answer(w, 200, "v", "Cache-Control", "max-age=60")
	})
	var wg sync.WaitGroup
	var hits, misses atomic.Int64
	for range clients {
		wg.Go(func() {
			r := request("GET", "/hot")
			rw := &recorder{}
			arrived.Add(1)
			g.h.ServeHTTPX(rw, r)
			if rw.status != 200 || rw.body.String() != "v" {
				t.Errorf("got %d %q", rw.status, rw.body.String())
			}
			switch rw.header.Get("X-Cache") {
			case "HIT":
				hits.Add(1)
			case "MISS":
				misses.Add(1)
			}
		})
	}
	wg.Wait()
	if c := g.o.calls.Load(); c != 1 {
		t.Fatalf("%d concurrent misses made %d upstream calls, want 1", clients, c)
	}
	if misses.Load() != 1 || hits.Load() != clients-1 {
		t.Fatalf("misses %d hits %d", misses.Load(), hits.Load())
	}
}

func TestUncacheableAnswerReleasesFollowers(t *testing.T) {
	g := newRig(t, Options{}, func(w httpx.ResponseWriter, r *httpx.Request) {
		time.Sleep(10 * time.Millisecond)
		answer(w, 200, "v", "Cache-Control", "no-store")
	})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			rw := g.do("GET", "/a")
			if rw.status != 200 || rw.body.String() != "v" {
				t.Errorf("got %d %q", rw.status, rw.body.String())
			}
		})
	}
	wg.Wait()
	if c := g.o.calls.Load(); c < 2 {
		t.Fatalf("calls %d: followers of an uncacheable answer must go upstream themselves", c)
	}
}

func TestEntrySizeLimit(t *testing.T) {
	big := strings.Repeat("x", 2000)
	tests := []struct {
		name   string
		length bool // the origin declares Content-Length
	}{
		{"declared length", true},
		{"streamed without length", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newRig(t, Options{MaxEntrySize: 1000}, func(w httpx.ResponseWriter, r *httpx.Request) {
				if tt.length {
					answer(w, 200, big, "Cache-Control", "max-age=60")
					return
				}
				w.Header().Add("Cache-Control", "max-age=60")
				w.WriteHeader(200)
				for i := 0; i < len(big); i += 500 {
					w.Write([]byte(big[i : i+500]))
					w.Flush()
				}
			})
			g.expect(g.do("GET", "/a"), 200, "MISS", big)
			g.expect(g.do("GET", "/a"), 200, "MISS", big)
			if g.store.Stats().Entries != 0 {
				t.Fatalf("an entry over max_entry_size was stored")
			}
		})
	}
}

func TestTruncatedBodyIsNotStored(t *testing.T) {
	g := newRig(t, Options{}, func(w httpx.ResponseWriter, r *httpx.Request) {
		w.Header().Add("Content-Length", "10")
		w.WriteHeader(200)
		w.Write([]byte("short")) // the upstream died mid-body
	})
	g.do("GET", "/a")
	g.expect(g.do("GET", "/a"), 200, "MISS", "short")
}

func TestOuterPolicyHeadersNotStored(t *testing.T) {
	g := newRig(t, Options{TagsHeader: "Surrogate-Key"}, func(w httpx.ResponseWriter, r *httpx.Request) {
		answer(w, 200, "v", "X-From", "origin", "Surrogate-Key", "a b", "X-Request-ID", "old")
	})
	for i, want := range []string{"MISS", "HIT"} {
		r := request("GET", "/a")
		rw := &recorder{}
		rw.header.Add("X-Cors", "outer") // a policy before the cache set this
		g.h.ServeHTTPX(rw, r)
		if rw.header.Get("X-Cache") != want || rw.header.Count("X-Cors") != 1 || rw.header.Count("X-From") != 1 {
			t.Fatalf("request %d: %v", i, rw.header)
		}
		if rw.header.Has("Surrogate-Key") {
			t.Fatalf("request %d: the tags header reached the client: %v", i, rw.header)
		}
		if want == "HIT" && (rw.header.Get("X-Request-ID") != "req-1" || rw.header.Get("Content-Length") != "1") {
			t.Fatalf("hit fields: %v", rw.header)
		}
	}
}

func TestPurge(t *testing.T) {
	g := newRig(t, Options{TagsHeader: "Surrogate-Key"}, func(w httpx.ResponseWriter, r *httpx.Request) {
		tags := map[string]string{"/api/p/42": "product-42 products", "/api/p/43": "product-43 products", "/web/": "home"}
		answer(w, 200, "v", "Surrogate-Key", tags[r.Path])
	})
	fill := func() {
		for _, p := range []string{"/api/p/42", "/api/p/43", "/web/"} {
			g.do("GET", p)
		}
	}
	tests := []struct {
		sel  Selector
		want int
		left []string // paths still HIT afterwards
	}{
		{Selector{Key: "GET example.com/api/p/42"}, 1, []string{"/api/p/43", "/web/"}},
		{Selector{Key: "example.com/api/p/42"}, 1, []string{"/api/p/43", "/web/"}},
		{Selector{Key: "GET example.com/nothing"}, 0, []string{"/api/p/42", "/api/p/43", "/web/"}},
		{Selector{Prefix: "/api/"}, 2, []string{"/web/"}},
		{Selector{Prefix: "example.com/web"}, 1, []string{"/api/p/42", "/api/p/43"}},
		{Selector{Tag: "product-42"}, 1, []string{"/api/p/43", "/web/"}},
		{Selector{Tag: "products"}, 2, []string{"/web/"}},
		{Selector{All: true}, 3, nil},
	}
	for _, tt := range tests {
		fill()
		if n := g.store.Purge(tt.sel); n != tt.want {
			t.Fatalf("%+v purged %d, want %d", tt.sel, n, tt.want)
		}
		for _, p := range []string{"/api/p/42", "/api/p/43", "/web/"} {
			want := "MISS"
			for _, l := range tt.left {
				if l == p {
					want = "HIT"
				}
			}
			if got := g.do("GET", p).header.Get("X-Cache"); got != want {
				t.Fatalf("after %+v: %s is %s, want %s", tt.sel, p, got, want)
			}
		}
	}
}

func TestSelectorValidate(t *testing.T) {
	for _, sel := range []Selector{{}, {Key: "a", Prefix: "/"}, {All: true, Tag: "x"}} {
		if sel.Validate() == nil {
			t.Errorf("%+v: want an error", sel)
		}
	}
	if err := (Selector{Prefix: "/api/"}).Validate(); err != nil {
		t.Error(err)
	}
}

func TestStoreEvictsByBytes(t *testing.T) {
	st, err := NewStore(64 << 10)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	c := New(st, Options{Route: "r", TTL: time.Minute, MaxEntrySize: 32 << 10})
	defer c.Close()
	body := strings.Repeat("x", 10<<10)
	h := c.Middleware()(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) { answer(w, 200, body) }))
	for i := range 50 {
		h.ServeHTTPX(&recorder{}, request("GET", "/"+itoa(i+1)))
	}
	st.c.CleanUp()
	if s := st.Stats(); s.Bytes > 64<<10 || s.Entries > 6 {
		t.Fatalf("store holds %d bytes in %d entries, over its 64KB", s.Bytes, s.Entries)
	}
	if _, err := NewStore(0); err == nil {
		t.Fatal("a zero-sized store was accepted")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
