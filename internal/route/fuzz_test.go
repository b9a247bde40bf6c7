package route

import (
	"slices"
	"testing"

	"aya/internal/httpx"
)

// oracleSpecs overlap on purpose: every precedence rule and every fall-through has a pair of
// specs that both match some request.
var oracleSpecs = []Spec{
	{Host: "api.example.com", Path: "/v1/*"},
	{Host: "api.example.com", Path: "/v1/users/{id}"},
	{Host: "api.example.com", Path: "/v1/users/me"},
	{Host: "api.example.com", Path: "/v1/*", Headers: map[string]string{"x-env": "canary"}},
	{Host: "*.example.com", Path: "/v1/{a}/{b}"},
	{Host: "*.eu.example.com"},
	{Host: "*.example.com", Path: "~^/v[0-9]+/"},
	{Path: "/a/{x}/{y}/{z}"},
	{Path: "/{w}/{x}/c/d"},
	{Path: "/{p}/b/c/{q}"},
	{Path: "/a/b/{q}/d", Methods: []string{"get"}},
	{Path: "/a/*"},
	{Path: "/a/b/*", Methods: []string{"POST"}},
	{Path: "/a/b/*", Query: map[string]string{"v": "2"}},
	{Path: "~b"},
	{Path: "~a", Listeners: []string{"admin"}},
	{PathRegex: "b", Methods: []string{"GET"}},
	{Path: "/"},
	{Path: "/x/"},
	{Path: "/x/{id}/"},
	{Path: "/*", Headers: map[string]string{"X-Env": "*"}},
	{Listeners: []string{"admin"}},
	{Host: "[::1]", Path: "/a/*"},
	{Host: "API.example.com", Path: "/a/b"},
	{Path: "/{a}"},
	{Path: "/{a}/{b}"},
	{Path: "/a/{b}"},
	{Host: "*.example.com", Path: "~b", Query: map[string]string{"debug": "*"}},
	{Host: "*.example.com", Path: "~c"},
	{Host: "*.example.com", Path: "~b"},
	{Path: "/{t}/b/*"},
	{Path: "/a/{u}/*", Methods: []string{"GET"}},
	{Path: "/{t}/{u}/c/*"},
	{Host: "*.example.com", Path: "/{v}/*"},
	{Path: "~^/a/b/c$", Query: map[string]string{"v": "2"}},
	{Host: "api.example.com", PathRegex: "^/v1/users/[0-9]+$", Headers: map[string]string{"x-env": "*"}},
}

var (
	oracleHosts   = []string{"api.example.com", "API.Example.com:8080", "x.eu.example.com", "eu.example.com", "a.example.com.", "[::1]:80", "other.test", ""}
	oracleMethods = []string{"GET", "POST", "get", "PUT"}
)

// oracleRequest turns fuzz input into a request; sel picks listener, method and a header.
func oracleRequest(sel uint8, host, path, query, env string) *httpx.Request {
	r := &httpx.Request{Listener: "web", Method: oracleMethods[sel&3], Host: host, Path: path, Query: query}
	if sel&4 != 0 {
		r.Listener = "admin"
	}
	if sel&8 != 0 {
		r.Header.Add("X-ENV", env)
	}
	if sel&16 != 0 {
		r.Header.Add("x-env", "canary")
	}
	return r
}

func checkAgainstReference(t *testing.T, table *Table, ref *reference, r *httpx.Request) {
	t.Helper()
	wantIdx, wantParams := ref.match(r)
	got, ok := table.Match(r)
	if ok != (wantIdx >= 0) || ok && got != wantIdx {
		t.Fatalf("listener=%q method=%q host=%q path=%q query=%q header=%v: Match = %d, %v; reference says %d",
			r.Listener, r.Method, r.Host, r.Path, r.Query, r.Header, got, ok, wantIdx)
	}
	if len(r.Params) != 0 || len(wantParams) != 0 {
		if !slices.Equal(r.Params, wantParams) {
			t.Fatalf("host=%q path=%q: Params = %v; reference says %v", r.Host, r.Path, r.Params, wantParams)
		}
	}
}

func FuzzMatch(f *testing.F) {
	table, err := Compile(oracleSpecs)
	if err != nil {
		f.Fatal(err)
	}
	ref := newReference(oracleSpecs)
	for _, p := range []string{"/", "/a", "/a/", "/a/b", "/a/b/c", "/a/b/c/d", "/a/b/x/d", "/v1/users/me", "/v1/users/7",
		"/v2/x", "/x/", "/x/1/", "//", "/a//b", "*", "", "/%61/b", "/a/../b", "/b/b/c/d"} {
		for i, h := range oracleHosts {
			f.Add(uint8(i*7), h, p, "v=2", "canary")
		}
	}
	f.Fuzz(func(t *testing.T, sel uint8, host, path, query, env string) {
		checkAgainstReference(t, table, ref, oracleRequest(sel, host, path, query, env))
	})
}

// TestMatchAgreesWithReference runs every path built from a small alphabet of segments, up to
// four deep (three under the race detector, which is ten times slower and looks for data races,
// not logic), against the oracle table on every host and request variant.
func TestMatchAgreesWithReference(t *testing.T) {
	table, err := Compile(oracleSpecs)
	if err != nil {
		t.Fatal(err)
	}
	ref := newReference(oracleSpecs)
	alphabet := []string{"a", "b", "c", "d", "v1", "users", "me", "x", ""}
	maxDepth := 4
	if raceEnabled {
		maxDepth = 3
	}
	paths := []string{""}
	for depth, frontier := 0, []string{""}; depth < maxDepth; depth++ {
		var next []string
		for _, p := range frontier {
			for _, s := range alphabet {
				next = append(next, p+"/"+s)
			}
		}
		paths, frontier = append(paths, next...), next
	}
	n := 0
	for _, p := range paths {
		for _, h := range oracleHosts {
			for _, v := range []struct {
				sel   uint8
				query string
			}{{0, ""}, {1 | 8, "v=2&debug"}, {2 | 4, ""}, {16, "debug"}, {1 | 16, "v=2"}} {
				checkAgainstReference(t, table, ref, oracleRequest(v.sel, h, p, v.query, "x"))
				n++
			}
		}
	}
	t.Logf("%d requests agree over %d distinct paths", n, len(paths))
}
