package canary

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"testing"
	"time"

	"aya/internal/httpx"
)

type recorder struct {
	h      httpx.Header
	status int
	body   strings.Builder
}

func (w *recorder) Header() *httpx.Header { return &w.h }
func (w *recorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *recorder) Write(p []byte) (int, error) { w.WriteHeader(200); return w.body.Write(p) }
func (w *recorder) Flush() error                { return nil }

// named answers with its name, so a test sees which branch served.
func named(name string) httpx.Handler {
	return httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) { w.Write([]byte(name)) })
}

func request(hdr ...string) *httpx.Request {
	r := &httpx.Request{Method: "GET", Path: "/", Host: "example.com", ClientIP: netip.MustParseAddr("192.0.2.1")}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

func split(t testing.TB, o Options) *Split {
	t.Helper()
	if o.Primary == "" {
		o.Primary = "v1"
	}
	if o.Canaries == nil {
		o.Canaries = []Branch{{Name: "v2", Weight: 0.1, Handler: named("v2")}, {Name: "v3", Weight: 0.05, Handler: named("v3")}}
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPick(t *testing.T) {
	hdr := &Override{Name: "X-Canary", Value: "on"}
	hdrTo := &Override{Name: "X-Canary", Value: "on", To: "v3"}
	hdrNames := &Override{Name: "X-Canary"}
	ck := &Override{Name: "canary", Value: "1"}
	for _, tc := range []struct {
		name   string
		o      Options
		req    *httpx.Request
		branch int
		why    Reason
	}{
		{"header forces the first canary", Options{Header: hdr}, request("x-canary", "on"), 1, ByHeader},
		{"header to a named canary", Options{Header: hdrTo}, request("X-Canary", "on"), 2, ByHeader},
		{"header with another value forces nothing", Options{Header: hdr, Sticky: StickyCookie, StickyCookie: "s"}, request("X-Canary", "off", "Cookie", "s=v3"), 2, BySticky},
		{"header value names the branch", Options{Header: hdrNames}, request("X-Canary", "v3"), 2, ByHeader},
		{"header value names the primary", Options{Header: hdrNames}, request("X-Canary", "v1"), 0, ByHeader},
		{"header value naming nothing", Options{Header: hdrNames, Sticky: StickyCookie, StickyCookie: "s"}, request("X-Canary", "v9", "Cookie", "s=v1"), 0, BySticky},
		{"cookie forces", Options{Cookie: ck}, request("Cookie", "a=b; canary=1"), 1, ByCookie},
		{"header beats cookie", Options{Header: hdrTo, Cookie: ck}, request("Cookie", "canary=1", "X-Canary", "on"), 2, ByHeader},
		{"sticky cookie", Options{Sticky: StickyCookie, StickyCookie: "aya_canary"}, request("Cookie", "aya_canary=v2"), 1, BySticky},
		{"sticky cookie of a removed branch re-picks", Options{Sticky: StickyCookie, StickyCookie: "aya_canary", Canaries: []Branch{{Name: "v2", Weight: 1, Handler: named("v2")}}}, request("Cookie", "aya_canary=old"), 1, ByWeight},
		{"weight 100% always picks the canary", Options{Canaries: []Branch{{Name: "v2", Weight: 1, Handler: named("v2")}}}, request(), 1, ByWeight},
		{"weight 0% never does", Options{Canaries: []Branch{{Name: "v2", Weight: 0, Handler: named("v2")}}}, request(), 0, ByWeight},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := split(t, tc.o)
			for range 20 {
				i, why := s.Pick(tc.req)
				if i != tc.branch || why != tc.why {
					t.Fatalf("Pick = %d (%v), want %d (%v)", i, why, tc.branch, tc.why)
				}
			}
		})
	}
}

func TestWeights(t *testing.T) {
	s := split(t, Options{})
	const n = 200000
	var got [3]int
	for range n {
		i, _ := s.Pick(request())
		got[i]++
	}
	for i, want := range []float64{0.85, 0.10, 0.05} {
		share := float64(got[i]) / n
		if math.Abs(share-want) > 0.01 {
			t.Errorf("branch %d got %.3f of requests, want %.2f", i, share, want)
		}
	}
}

func TestStickyIP(t *testing.T) {
	s := split(t, Options{Sticky: StickyIP})
	var got [3]int
	for a := range 20000 {
		r := request()
		r.ClientIP = netip.AddrFrom4([4]byte{10, byte(a >> 8), byte(a), 1})
		first, why := s.Pick(r)
		if why != BySticky {
			t.Fatalf("reason %v", why)
		}
		for range 3 {
			if i, _ := s.Pick(r); i != first {
				t.Fatalf("client %s moved from branch %d to %d", r.ClientIP, first, i)
			}
		}
		got[first]++
	}
	if share := float64(got[1]) / 20000; math.Abs(share-0.10) > 0.02 {
		t.Errorf("v2 got %.3f of client IPs, want about 0.10", share)
	}
	// Raising a canary's weight keeps the clients it had: its range only grows.
	wider := split(t, Options{Sticky: StickyIP, Canaries: []Branch{{Name: "v2", Weight: 0.3, Handler: named("v2")}}})
	for a := range 5000 {
		r := request()
		r.ClientIP = netip.AddrFrom4([4]byte{10, byte(a >> 8), byte(a), 1})
		if i, _ := s.Pick(r); i == 1 {
			if j, _ := wider.Pick(r); j != 1 {
				t.Fatalf("client %s left the canary when its weight went up", r.ClientIP)
			}
		}
	}
}

func TestMiddleware(t *testing.T) {
	s := split(t, Options{
		Canaries:     []Branch{{Name: "v2", Weight: 1, Handler: named("v2")}},
		Header:       &Override{Name: "X-Canary"},
		Sticky:       StickyCookie,
		StickyCookie: "aya_canary",
		StickyTTL:    24 * time.Hour,
		Secure:       true,
		Expose:       true,
	})
	h := s.Middleware()(named("v1"))

	w := &recorder{}
	h.ServeHTTPX(w, request())
	if w.body.String() != "v2" {
		t.Fatalf("served by %q", w.body.String())
	}
	if c := w.h.Get("Set-Cookie"); c != "aya_canary=v2; Path=/; HttpOnly; SameSite=Lax; Max-Age=86400; Secure" {
		t.Errorf("Set-Cookie = %q", c)
	}
	if v := w.h.Get("X-Aya-Canary"); v != "v2" {
		t.Errorf("X-Aya-Canary = %q", v)
	}

	// A forced request is served where it asked, and no cookie pins it there.
	w = &recorder{}
	h.ServeHTTPX(w, request("X-Canary", "v1"))
	if w.body.String() != "v1" || w.h.Has("Set-Cookie") || w.h.Get("X-Aya-Canary") != "v1" {
		t.Errorf("forced: served by %q, header %v", w.body.String(), w.h)
	}
	// The sticky cookie keeps its branch without setting itself again.
	w = &recorder{}
	h.ServeHTTPX(w, request("Cookie", "aya_canary=v1"))
	if w.body.String() != "v1" || w.h.Has("Set-Cookie") {
		t.Errorf("sticky: served by %q, header %v", w.body.String(), w.h)
	}
	var got []string
	for i, name := range s.Branches() {
		for _, why := range Reasons() {
			if n := s.Served(i, why); n > 0 {
				got = append(got, fmt.Sprintf("%s/%v=%d", name, why, n))
			}
		}
	}
	if strings.Join(got, " ") != "v1/header=1 v1/sticky=1 v2/weight=1" {
		t.Errorf("counters: %s", got)
	}
}

func TestNewErrors(t *testing.T) {
	h := named("x")
	for _, tc := range []struct {
		name string
		o    Options
		msg  string
	}{
		{"no primary", Options{Canaries: []Branch{{Name: "v2", Handler: h}}}, "primary"},
		{"no canaries", Options{Primary: "v1"}, "at least one"},
		{"too much weight", Options{Primary: "v1", Canaries: []Branch{{Name: "v2", Weight: 0.7, Handler: h}, {Name: "v3", Weight: 0.4, Handler: h}}}, "add up to 110%"},
		{"negative", Options{Primary: "v1", Canaries: []Branch{{Name: "v2", Weight: -0.1, Handler: h}}}, "between"},
		{"the primary again", Options{Primary: "v1", Canaries: []Branch{{Name: "v1", Weight: 0.1, Handler: h}}}, "twice"},
		{"no handler", Options{Primary: "v1", Canaries: []Branch{{Name: "v2", Weight: 0.1}}}, "no handler"},
		{"override to unknown", Options{Primary: "v1", Canaries: []Branch{{Name: "v2", Weight: 0.1, Handler: h}}, Header: &Override{Name: "X", Value: "1", To: "v9"}}, `"v9"`},
		{"sticky cookie without name", Options{Primary: "v1", Canaries: []Branch{{Name: "v2", Weight: 0.1, Handler: h}}, Sticky: StickyCookie}, "name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want one mentioning %q", err, tc.msg)
			}
		})
	}
}

func BenchmarkPick(b *testing.B) {
	for _, bc := range []struct {
		name string
		o    Options
		req  *httpx.Request
	}{
		{"weight", Options{}, request("User-Agent", "bench")},
		{"sticky_cookie", Options{Header: &Override{Name: "X-Canary", Value: "on"}, Sticky: StickyCookie, StickyCookie: "aya_canary"}, request("Cookie", "session=abc; aya_canary=v2")},
		{"sticky_ip", Options{Sticky: StickyIP}, request()},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := split(b, bc.o)
			b.ReportAllocs()
			for b.Loop() {
				s.Pick(bc.req)
			}
		})
	}
}

func BenchmarkMiddleware(b *testing.B) {
	nop := httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {})
	s := split(b, Options{Sticky: StickyCookie, StickyCookie: "aya_canary", Expose: true,
		Canaries: []Branch{{Name: "v2", Weight: 0.1, Handler: nop}}})
	h := s.Middleware()(nop)
	w := &recorder{h: make(httpx.Header, 0, 8)}
	r := request("Cookie", "aya_canary=v1")
	b.ReportAllocs()
	for b.Loop() {
		w.h = w.h[:0]
		h.ServeHTTPX(w, r)
	}
}
