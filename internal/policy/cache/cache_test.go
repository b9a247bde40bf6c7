package cache

import (
	"testing"
	"time"

	"aya/internal/httpx"
)

// step is one request of a scenario (after moving the clock) and what it must get.
type step struct {
	advance time.Duration
	method  string
	target  string
	fields  []string
	status  int
	xcache  string
	body    string
	calls   int64 // origin calls so far
}

func get(target string, xcache string, calls int64, fields ...string) step {
	return step{method: "GET", target: target, fields: fields, status: 200, xcache: xcache, body: "v", calls: calls}
}

func after(d time.Duration, s step) step { s.advance = d; return s }

func TestScenarios(t *testing.T) {
	const date = "Fri, 02 Jan 2026 03:04:05 GMT"
	tests := []struct {
		name   string
		opts   Options
		fields []string // the origin's answer fields; the body is "v"
		status int
		steps  []step
	}{
		{"miss then hit", Options{}, []string{"Cache-Control", "max-age=60"}, 200, []step{
			get("/a", "MISS", 1), get("/a", "HIT", 1), get("/b", "MISS", 2),
		}},
		{"max-age expires", Options{}, []string{"Cache-Control", "max-age=10"}, 200, []step{
			get("/a", "MISS", 1), after(9*time.Second, get("/a", "HIT", 1)), after(2*time.Second, get("/a", "MISS", 2)),
		}},
		{"default ttl when the response names none", Options{TTL: time.Minute}, nil, 200, []step{
			get("/a", "MISS", 1), after(30*time.Second, get("/a", "HIT", 1)), after(31*time.Second, get("/a", "MISS", 2)),
		}},
		{"s-maxage wins over max-age", Options{}, []string{"Cache-Control", "max-age=1, s-maxage=100"}, 200, []step{
			get("/a", "MISS", 1), after(50*time.Second, get("/a", "HIT", 1)),
		}},
		{"Expires minus Date", Options{}, []string{"Date", date, "Expires", "Fri, 02 Jan 2026 03:04:35 GMT"}, 200, []step{
			get("/a", "MISS", 1), after(20*time.Second, get("/a", "HIT", 1)), after(11*time.Second, get("/a", "MISS", 2)),
		}},
		{"invalid Expires is already expired", Options{}, []string{"Expires", "0"}, 200, []step{
			get("/a", "MISS", 1), get("/a", "MISS", 2),
		}},
		{"Age from upstream counts", Options{}, []string{"Cache-Control", "max-age=60", "Age", "55"}, 200, []step{
			get("/a", "MISS", 1), after(4*time.Second, get("/a", "HIT", 1)), after(2*time.Second, get("/a", "MISS", 2)),
		}},
		{"no-store response", Options{}, []string{"Cache-Control", "no-store"}, 200, []step{
			get("/a", "MISS", 1), get("/a", "MISS", 2),
		}},
		{"private response", Options{}, []string{"Cache-Control", "private, max-age=60"}, 200, []step{
			get("/a", "MISS", 1), get("/a", "MISS", 2),
		}},
		{"no-cache without validator", Options{}, []string{"Cache-Control", "no-cache"}, 200, []step{
			get("/a", "MISS", 1), get("/a", "MISS", 2),
		}},
		{"Set-Cookie is not stored", Options{}, []string{"Set-Cookie", "s=1"}, 200, []step{
			get("/a", "MISS", 1), get("/a", "MISS", 2),
		}},
		{"Set-Cookie stored when allowed", Options{AllowSetCookie: true}, []string{"Set-Cookie", "s=1"}, 200, []step{
			get("/a", "MISS", 1), get("/a", "HIT", 1),
		}},
		{"Vary star is not stored", Options{}, []string{"Vary", "*"}, 200, []step{
			get("/a", "MISS", 1), get("/a", "MISS", 2),
		}},
		{"Vary refused when told", Options{IgnoreVary: true}, []string{"Vary", "Accept"}, 200, []step{
			get("/a", "MISS", 1), get("/a", "MISS", 2),
		}},
		{"500 is not stored", Options{}, []string{"Cache-Control", "max-age=60"}, 500, []step{
			{method: "GET", target: "/a", status: 500, xcache: "MISS", body: "v", calls: 1},
			{method: "GET", target: "/a", status: 500, xcache: "MISS", body: "v", calls: 2},
		}},
		{"404 is stored", Options{}, []string{"Cache-Control", "max-age=60"}, 404, []step{
			{method: "GET", target: "/a", status: 404, xcache: "MISS", body: "v", calls: 1},
			{method: "GET", target: "/a", status: 404, xcache: "HIT", body: "v", calls: 1},
		}},
		{"request no-store bypasses", Options{}, nil, 200, []step{
			get("/a", "BYPASS", 1, "Cache-Control", "no-store"), get("/a", "MISS", 2), get("/a", "HIT", 2),
		}},
		{"request no-cache refetches", Options{}, nil, 200, []step{
			get("/a", "MISS", 1), get("/a", "MISS", 2, "Cache-Control", "no-cache"), get("/a", "MISS", 3, "Pragma", "no-cache"),
			get("/a", "MISS", 4, "Cache-Control", "max-age=0"), get("/a", "HIT", 4),
		}},
		{"request max-age bounds the age", Options{}, []string{"Cache-Control", "max-age=60"}, 200, []step{
			get("/a", "MISS", 1), after(10*time.Second, get("/a", "HIT", 1, "Cache-Control", "max-age=20")),
			get("/a", "MISS", 2, "Cache-Control", "max-age=5"), after(3*time.Second, get("/a", "HIT", 2, "Cache-Control", "max-age=5")),
		}},
		{"only-if-cached", Options{}, nil, 200, []step{
			{method: "GET", target: "/a", fields: []string{"Cache-Control", "only-if-cached"}, status: 504, calls: 0},
			get("/a", "MISS", 1), get("/a", "HIT", 1, "Cache-Control", "only-if-cached"),
		}},
		{"Range and bodies bypass", Options{}, nil, 200, []step{
			get("/a", "BYPASS", 1, "Range", "bytes=0-1"), get("/a", "BYPASS", 2, "Upgrade", "websocket"),
		}},
		{"query is part of the key", Options{}, nil, 200, []step{
			get("/a?x=1", "MISS", 1), get("/a?x=2", "MISS", 2), get("/a?x=1", "HIT", 2),
		}},
		{"query ignored", Options{Query: QueryNone}, nil, 200, []step{
			get("/a?x=1", "MISS", 1), get("/a?x=2", "HIT", 1), get("/a", "HIT", 1),
		}},
		{"query list", Options{Query: QueryList, QueryParams: []string{"id"}}, nil, 200, []step{
			get("/a?id=1&utm=a", "MISS", 1), get("/a?utm=b&id=1", "HIT", 1), get("/a?id=2", "MISS", 2),
		}},
		{"host case does not matter", Options{}, nil, 200, []step{
			get("/a", "MISS", 1, "Host", "Example.COM"), get("/a", "HIT", 1), get("/a", "MISS", 2, "Host", "other.com"),
		}},
		{"key headers", Options{KeyHeaders: []string{"X-Tenant"}}, nil, 200, []step{
			get("/a", "MISS", 1, "X-Tenant", "a"), get("/a", "MISS", 2, "X-Tenant", "b"), get("/a", "HIT", 2, "x-tenant", "a"),
		}},
		{"key cookies", Options{KeyCookies: []string{"lang"}}, nil, 200, []step{
			get("/a", "MISS", 1, "Cookie", "lang=en; sid=1"), get("/a", "HIT", 1, "Cookie", "sid=2; lang=en"),
			get("/a", "MISS", 2, "Cookie", "lang=fr"),
		}},
		{"credentials without public are not stored", Options{}, []string{"Cache-Control", "max-age=60"}, 200, []step{
			get("/a", "MISS", 1, "Authorization", "Bearer x"), get("/a", "MISS", 2, "Authorization", "Bearer x"),
		}},
		{"credentials with public are stored", Options{}, []string{"Cache-Control", "public, max-age=60"}, 200, []step{
			get("/a", "MISS", 1, "Authorization", "Bearer x"), get("/a", "HIT", 1),
		}},
		{"HEAD is answered from GET", Options{}, nil, 200, []step{
			get("/a", "MISS", 1), {method: "HEAD", target: "/a", status: 200, xcache: "HIT", calls: 1},
		}},
		{"POST bypasses and invalidates", Options{}, nil, 200, []step{
			get("/a", "MISS", 1), get("/a", "HIT", 1),
			{method: "POST", target: "/a", status: 200, xcache: "BYPASS", body: "v", calls: 2},
			get("/a", "MISS", 3),
		}},
		{"methods list", Options{Methods: []string{"GET"}}, nil, 200, []step{
			{method: "HEAD", target: "/a", status: 200, xcache: "BYPASS", body: "v", calls: 1},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newRig(t, tt.opts, func(w httpx.ResponseWriter, r *httpx.Request) {
				answer(w, tt.status, "v", tt.fields...)
			})
			for i, s := range tt.steps {
				g.clock.advance(s.advance)
				rw := g.do(s.method, s.target, s.fields...)
				if s.status == 504 {
					if rw.status != 504 {
						t.Fatalf("step %d: status %d, want 504", i, rw.status)
					}
				} else {
					g.expect(rw, s.status, s.xcache, s.body)
				}
				if n := g.o.calls.Load(); n != s.calls {
					t.Fatalf("step %d (%s %s): origin called %d times, want %d", i, s.method, s.target, n, s.calls)
				}
			}
		})
	}
}
