package httpx

import (
	"testing"
)

func TestHeaderOps(t *testing.T) {
	var h Header
	h.Add("X-A", "1")
	h.Add("x-a", "2")
	h.Add("X-B", "3")
	if h.Get("X-a") != "1" || h.Count("X-A") != 2 || !h.Has("x-b") || h.Has("x-c") {
		t.Fatalf("get/count/has: %v", h)
	}
	h.Set("X-A", "9")
	if h.Count("X-A") != 1 || h[0].Value != "9" || h[1].Name != "X-B" {
		t.Fatalf("set keeps the first position and drops the rest: %v", h)
	}
	h.Set("X-New", "n")
	if h.Get("x-new") != "n" || len(h) != 3 {
		t.Fatalf("set appends: %v", h)
	}
	h.Del("x-b")
	if h.Has("X-B") || len(h) != 2 {
		t.Fatalf("del: %v", h)
	}
	if v, ok := h.Lookup("X-A"); !ok || v != "9" {
		t.Fatal("lookup")
	}
	h.Reset()
	if len(h) != 0 || cap(h) == 0 {
		t.Fatal("reset keeps capacity")
	}
}

func TestEqualFold(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"Content-Length", "content-length", true}, {"X", "x", true}, {"a", "b", false},
		{"ab", "a", false}, {"K", "\u212a", false}, {"[", "{", false}, {"", "", true},
	} {
		if got := EqualFold(c.a, c.b); got != c.want {
			t.Errorf("%q %q: %v", c.a, c.b, got)
		}
	}
}

func TestQueryLookup(t *testing.T) {
	for _, c := range []struct {
		q, k, v string
		ok      bool
	}{
		{"a=1&b=2", "b", "2", true}, {"a=1&b=2", "a", "1", true}, {"a&b=2", "a", "", true},
		{"a=1", "c", "", false}, {"", "a", "", false}, {"a=1&a=2", "a", "1", true}, {"x=a%20b", "x", "a%20b", true},
		{"a=1&", "a", "1", true}, {"&&a=3", "a", "3", true},
	} {
		v, ok := QueryLookup(c.q, c.k)
		if v != c.v || ok != c.ok {
			t.Errorf("%q[%q] = %q %v", c.q, c.k, v, ok)
		}
	}
}

func TestCookie(t *testing.T) {
	r := &Request{Header: Header{{Name: "Cookie", Value: "a=1; sid=xyz ;b=2"}, {Name: "cookie", Value: "c=3"}}}
	for name, want := range map[string]string{"a": "1", "sid": "xyz", "b": "2", "c": "3", "d": ""} {
		if got := r.Cookie(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
}

func TestRequestBasics(t *testing.T) {
	r := &Request{Params: []Param{{Name: "id", Value: "42"}}}
	if r.Param("id") != "42" || r.Param("x") != "" {
		t.Fatal("params")
	}
	if r.Scheme() != "http" || r.Context() == nil {
		t.Fatal("scheme/context defaults")
	}
}

func BenchmarkHeaderGet(b *testing.B) {
	h := Header{{Name: "Host", Value: "x"}, {Name: "User-Agent", Value: "wrk"}, {Name: "Accept", Value: "*/*"}, {Name: "X-Request-ID", Value: "abc"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = h.Get("x-request-id")
	}
}
