package cache

import (
	"testing"

	"aya/internal/httpx"
)

func TestParseDirectives(t *testing.T) {
	tests := []struct {
		name   string
		fields []string
		check  func(d directives) bool
	}{
		{"empty", nil, func(d directives) bool { return d.maxAge == -1 && d.sMaxAge == -1 && !d.noStore }},
		{"max-age", []string{"Cache-Control", "max-age=60"}, func(d directives) bool { return d.maxAge == 60 }},
		{"case and spaces", []string{"Cache-Control", " Max-Age = 5 ,PUBLIC"}, func(d directives) bool { return d.public }},
		{"quoted value", []string{"Cache-Control", `max-age="30"`}, func(d directives) bool { return d.maxAge == 30 }},
		{"garbage max-age is stale", []string{"Cache-Control", "max-age=abc"}, func(d directives) bool { return d.maxAge == 0 }},
		{"huge max-age is capped", []string{"Cache-Control", "max-age=99999999999999999999999"}, func(d directives) bool { return d.maxAge == maxDelta }},
		{"s-maxage", []string{"Cache-Control", "s-maxage=7"}, func(d directives) bool { return d.sMaxAge == 7 }},
		{"two fields", []string{"Cache-Control", "no-cache", "Cache-Control", "no-store"}, func(d directives) bool { return d.noCache && d.noStore }},
		{"private with fields", []string{"Cache-Control", `private="Set-Cookie, X-A", max-age=9`}, func(d directives) bool { return d.private && d.maxAge == 9 }},
		{"no-cache with fields", []string{"Cache-Control", `no-cache="X"`}, func(d directives) bool { return d.noCache }},
		{"revalidate", []string{"Cache-Control", "proxy-revalidate"}, func(d directives) bool { return d.mustRevalidate }},
		{"stale windows", []string{"Cache-Control", "stale-while-revalidate=5, stale-if-error=6"}, func(d directives) bool { return d.staleRevalidate == 5 && d.staleIfError == 6 }},
		{"pragma alone", []string{"Pragma", "no-cache"}, func(d directives) bool { return d.noCache }},
		{"pragma loses to cache-control", []string{"Pragma", "no-cache", "Cache-Control", "max-age=1"}, func(d directives) bool { return !d.noCache }},
		{"only-if-cached", []string{"Cache-Control", "only-if-cached"}, func(d directives) bool { return d.onlyIfCached }},
		{"unknown ignored", []string{"Cache-Control", "foo, bar=1, max-age=3"}, func(d directives) bool { return d.maxAge == 3 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h httpx.Header
			for i := 0; i+1 < len(tt.fields); i += 2 {
				h.Add(tt.fields[i], tt.fields[i+1])
			}
			if d := parseDirectives(h); !tt.check(d) {
				t.Fatalf("%v: got %+v", tt.fields, d)
			}
		})
	}
}

// FuzzParseDirectives feeds arbitrary header values: parsing must not panic, delta seconds
// stay within their bounds, and list splitting keeps the first item whatever follows.
func FuzzParseDirectives(f *testing.F) {
	for _, s := range []string{"max-age=60", `private="a,b", s-maxage=1`, `no-cache="`, ",,,", `"\`, "max-age=-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d := parseDirectives(httpx.Header{{Name: "Cache-Control", Value: v}})
		for _, n := range []int64{d.maxAge, d.sMaxAge, d.staleRevalidate, d.staleIfError} {
			if n < -1 || n > maxDelta {
				t.Fatalf("%q: delta %d out of range", v, n)
			}
		}
		if !etagListMatches(`"x", `+v, `"x"`) {
			t.Fatalf("%q: a list that starts with the etag does not match it", v)
		}
	})
}

func BenchmarkParseDirectives(b *testing.B) {
	h := httpx.Header{{Name: "Content-Type", Value: "text/html"}, {Name: "Cache-Control", Value: "public, max-age=60, stale-while-revalidate=30"}}
	b.ReportAllocs()
	for b.Loop() {
		parseDirectives(h)
	}
}
