package route

import (
	"slices"
	"testing"

	"aya/internal/httpx"
)

// req builds a request; hdr alternates names and values.
func req(method, host, path, query string, hdr ...string) *httpx.Request {
	r := &httpx.Request{Method: method, Host: host, Path: path, Query: query, Listener: "web"}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	return r
}

func onListener(l string, r *httpx.Request) *httpx.Request {
	r.Listener = l
	return r
}

func params(kv ...string) []httpx.Param {
	var ps []httpx.Param
	for i := 0; i+1 < len(kv); i += 2 {
		ps = append(ps, httpx.Param{Name: kv[i], Value: kv[i+1]})
	}
	return ps
}

func TestMatch(t *testing.T) {
	get := func(host, path string) *httpx.Request { return req("GET", host, path, "") }
	tests := []struct {
		name       string
		specs      []Spec
		r          *httpx.Request
		want       int // -1: no match
		wantParams []httpx.Param
	}{
		// Host forms.
		{"any host", []Spec{{}}, get("whatever.test", "/"), 0, nil},
		{"star host is any", []Spec{{Host: "*"}}, get("x.test", "/"), 0, nil},
		{"empty request host meets any", []Spec{{Host: "a.test"}, {}}, get("", "/"), 1, nil},
		{"exact host", []Spec{{Host: "api.example.com"}}, get("api.example.com", "/"), 0, nil},
		{"exact host other", []Spec{{Host: "api.example.com"}}, get("www.example.com", "/"), -1, nil},
		{"host case-insensitive request", []Spec{{Host: "api.example.com"}}, get("API.Example.COM", "/"), 0, nil},
		{"host case-insensitive config", []Spec{{Host: "API.example.com"}}, get("api.EXAMPLE.com", "/"), 0, nil},
		{"host port ignored", []Spec{{Host: "api.example.com"}}, get("api.example.com:8443", "/"), 0, nil},
		{"host trailing dot", []Spec{{Host: "api.example.com"}}, get("api.example.com.:80", "/"), 0, nil},
		{"config trailing dot", []Spec{{Host: "api.example.com."}}, get("api.example.com", "/"), 0, nil},
		{"ipv4 host with port", []Spec{{Host: "127.0.0.1"}}, get("127.0.0.1:8080", "/"), 0, nil},
		{"ipv6 host with port", []Spec{{Host: "[::1]"}}, get("[::1]:8080", "/"), 0, nil},
		{"ipv6 host without port", []Spec{{Host: "[2001:db8::1]"}}, get("[2001:DB8::1]", "/"), 0, nil},
		{"host prefix is not the host", []Spec{{Host: "example.com"}}, get("example.com.evil", "/"), -1, nil},
		{"wildcard one level", []Spec{{Host: "*.example.com"}}, get("a.example.com", "/"), 0, nil},
		{"wildcard any depth", []Spec{{Host: "*.example.com"}}, get("a.b.c.example.com", "/"), 0, nil},
		{"wildcard not apex", []Spec{{Host: "*.example.com"}}, get("example.com", "/"), -1, nil},
		{"wildcard not bare dot", []Spec{{Host: "*.example.com"}}, get(".example.com", "/"), -1, nil},
		{"wildcard needs a dot boundary", []Spec{{Host: "*.example.com"}}, get("badexample.com", "/"), -1, nil},
		{"wildcard case and port", []Spec{{Host: "*.Example.com"}}, get("A.EXAMPLE.com:80", "/"), 0, nil},
		{"longer host over long path", []Spec{{Path: "/a/b/c"}, {Host: "a.test"}}, get("a.test", "/a/b/c"), 1, nil},
		{"exact host beats wildcard", []Spec{{Host: "*.example.com"}, {Host: "api.example.com"}}, get("api.example.com", "/"), 1, nil},
		{"longer wildcard first", []Spec{{Host: "*.example.com"}, {Host: "*.eu.example.com"}}, get("x.eu.example.com", "/"), 1, nil},
		{"shorter wildcard when longer misses", []Spec{{Host: "*.example.com"}, {Host: "*.eu.example.com"}}, get("x.us.example.com", "/"), 0, nil},
		{"wildcard apex falls to shorter wildcard", []Spec{{Host: "*.example.com"}, {Host: "*.eu.example.com"}}, get("eu.example.com", "/"), 0, nil},
		{"wildcard beats any", []Spec{{}, {Host: "*.example.com"}}, get("a.example.com", "/"), 1, nil},
		{"host falls through to wildcard when path misses", []Spec{{Host: "api.example.com", Path: "/v1/*"}, {Host: "*.example.com", Path: "/v2/*"}}, get("api.example.com", "/v2/x"), 1, nil},
		{"host falls through to any", []Spec{{Host: "api.example.com", Path: "/v1"}, {Path: "/v2"}}, get("api.example.com", "/v2"), 1, nil},
		{"over-long host meets any only", []Spec{{Host: "a.test"}, {}}, get(string(make([]byte, 300)), "/"), 1, nil},

		// Path forms.
		{"exact path", []Spec{{Path: "/a/b"}}, get("h", "/a/b"), 0, nil},
		{"exact path no trailing slash", []Spec{{Path: "/a/b"}}, get("h", "/a/b/"), -1, nil},
		{"exact path with trailing slash", []Spec{{Path: "/docs/"}}, get("h", "/docs/"), 0, nil},
		{"exact root", []Spec{{Path: "/"}}, get("h", "/"), 0, nil},
		{"exact root only", []Spec{{Path: "/"}}, get("h", "/a"), -1, nil},
		{"any path slash star", []Spec{{Path: "/*"}}, get("h", "/x/y"), 0, nil},
		{"prefix bare", []Spec{{Path: "/a/*"}}, get("h", "/a"), 0, nil},
		{"prefix slash", []Spec{{Path: "/a/*"}}, get("h", "/a/"), 0, nil},
		{"prefix deep", []Spec{{Path: "/a/*"}}, get("h", "/a/b/c/"), 0, nil},
		{"prefix segment boundary", []Spec{{Path: "/a/*"}}, get("h", "/ab"), -1, nil},
		{"prefix multi segment", []Spec{{Path: "/api/v1/*"}}, get("h", "/api/v1/users"), 0, nil},
		{"prefix multi segment parent", []Spec{{Path: "/api/v1/*"}}, get("h", "/api"), -1, nil},
		{"param single", []Spec{{Path: "/users/{id}"}}, get("h", "/users/42"), 0, params("id", "42")},
		{"param multiple", []Spec{{Path: "/users/{id}/posts/{pid}"}}, get("h", "/users/7/posts/9"), 0, params("id", "7", "pid", "9")},
		{"param raw value", []Spec{{Path: "/f/{name}"}}, get("h", "/f/a%2Fb"), 0, params("name", "a%2Fb")},
		{"param empty segment", []Spec{{Path: "/users/{id}"}}, get("h", "/users/"), -1, nil},
		{"param one segment only", []Spec{{Path: "/users/{id}"}}, get("h", "/users/1/2"), -1, nil},
		{"param first segment", []Spec{{Path: "/{tenant}/x"}}, get("h", "/acme/x"), 0, params("tenant", "acme")},
		{"param trailing slash pattern", []Spec{{Path: "/u/{id}/"}}, get("h", "/u/3/"), 0, params("id", "3")},
		{"prefix with param", []Spec{{Path: "/tenants/{t}/*"}}, get("h", "/tenants/acme/x/y"), 0, params("t", "acme")},
		{"prefix with param bare", []Spec{{Path: "/tenants/{t}/*"}}, get("h", "/tenants/acme"), 0, params("t", "acme")},
		{"prefix with param empty segment", []Spec{{Path: "/tenants/{t}/*"}}, get("h", "/tenants/"), -1, nil},
		{"regex tilde", []Spec{{Path: "~^/v[0-9]+/"}}, get("h", "/v2/x"), 0, nil},
		{"regex field", []Spec{{PathRegex: "^/v[0-9]+/"}}, get("h", "/v2/x"), 0, nil},
		{"regex unanchored", []Spec{{Path: "~/v[0-9]+/"}}, get("h", "/x/v2/"), 0, nil},
		{"regex miss", []Spec{{Path: "~^/v[0-9]+/"}}, get("h", "/vx/"), -1, nil},
		{"asterisk-form target", []Spec{{Path: "/a/*"}, {Path: "/{x}"}, {}}, req("OPTIONS", "h", "*", ""), 2, nil},
		{"raw path not decoded", []Spec{{Path: "/a"}}, get("h", "/%61"), -1, nil},
		{"dot segments not resolved", []Spec{{Path: "/admin/*"}, {Path: "/public/*"}}, get("h", "/public/../admin/x"), 1, nil},

		// Path precedence.
		{"exact beats params", []Spec{{Path: "/users/{id}"}, {Path: "/users/me"}}, get("h", "/users/me"), 1, nil},
		{"params beat prefix", []Spec{{Path: "/users/*"}, {Path: "/users/{id}"}}, get("h", "/users/1"), 1, params("id", "1")},
		{"prefix beats regex", []Spec{{Path: "~^/users"}, {Path: "/users/*"}}, get("h", "/users/1"), 1, nil},
		{"regex beats any", []Spec{{}, {Path: "~^/users"}}, get("h", "/users/1"), 1, nil},
		{"longer prefix first", []Spec{{Path: "/a/*"}, {Path: "/a/b/*"}}, get("h", "/a/b/c"), 1, nil},
		{"longer prefix on its own root", []Spec{{Path: "/a/*"}, {Path: "/a/b/*"}}, get("h", "/a/b"), 1, nil},
		{"shorter prefix beside longer", []Spec{{Path: "/a/*"}, {Path: "/a/b/*"}}, get("h", "/a/bc"), 0, nil},
		{"more literal segments first", []Spec{{Path: "/a/{x}/{y}/{z}"}, {Path: "/{w}/{x}/c/d"}, {Path: "/{p}/b/c/{q}"}}, get("h", "/a/b/c/d"), 2, params("p", "a", "q", "d")},
		{"literal beats param at first difference", []Spec{{Path: "/{x}/b"}, {Path: "/a/{y}"}}, get("h", "/a/b"), 1, params("y", "b")},
		{"literal beats param deeper", []Spec{{Path: "/a/{x}/{y}"}, {Path: "/a/{x}/c"}, {Path: "/a/b/{y}"}}, get("h", "/a/b/c"), 2, params("y", "c")},
		{"params fall back when literal branch fails", []Spec{{Path: "/a/b/{x}"}, {Path: "/{y}/c/d"}}, get("h", "/a/c/d"), 1, params("y", "a")},
		{"params fall back on predicate", []Spec{{Path: "/a/{x}", Methods: []string{"POST"}}, {Path: "/{y}/b"}}, get("h", "/a/b"), 1, params("y", "a")},
		{"longer prefix with param beats shorter literal", []Spec{{Path: "/a/*"}, {Path: "/{x}/b/*"}}, get("h", "/a/b/c"), 1, params("x", "a")},
		{"literal prefix beats param prefix of equal length", []Spec{{Path: "/{x}/*"}, {Path: "/a/*"}}, get("h", "/a/z"), 1, nil},
		{"param prefix when literal prefix fails", []Spec{{Path: "/{x}/*"}, {Path: "/a/*", Methods: []string{"POST"}}}, get("h", "/a/z"), 0, params("x", "a")},
		{"regex in config order", []Spec{{Path: "~b"}, {Path: "~a"}}, get("h", "/ab"), 0, nil},
		{"same regex ties on predicates", []Spec{{Path: "~a"}, {PathRegex: "a", Methods: []string{"GET"}}}, get("h", "/a"), 1, nil},
		{"config order tie-break", []Spec{{Path: "/a"}, {Path: "/a"}}, get("h", "/a"), 0, nil},
		{"config order tie-break params", []Spec{{Path: "/u/{a}"}, {Path: "/u/{b}"}}, get("h", "/u/1"), 0, params("a", "1")},
		{"more predicates win", []Spec{{Path: "/a"}, {Path: "/a", Methods: []string{"GET"}}}, get("h", "/a"), 1, nil},
		{"more predicates win over config order", []Spec{{Path: "/a", Methods: []string{"GET"}}, {Path: "/a", Methods: []string{"GET"}, Headers: map[string]string{"x": "*"}}}, req("GET", "h", "/a", "", "X", "1"), 1, nil},
		{"method list counts once", []Spec{{Path: "/a", Methods: []string{"GET", "POST", "PUT"}}, {Path: "/a", Query: map[string]string{"q": "*"}}}, req("GET", "h", "/a", "q=1"), 0, nil},
		{"path outranks predicates", []Spec{{Path: "/a/*", Methods: []string{"GET"}, Headers: map[string]string{"x": "*"}}, {Path: "/a/b"}}, req("GET", "h", "/a/b", "", "x", "1"), 1, nil},

		// Predicates and fall-through.
		{"method match", []Spec{{Methods: []string{"GET", "HEAD"}}}, req("HEAD", "h", "/", ""), 0, nil},
		{"method miss", []Spec{{Methods: []string{"GET"}}}, req("POST", "h", "/", ""), -1, nil},
		{"method case folded in config", []Spec{{Methods: []string{"get"}}}, req("GET", "h", "/", ""), 0, nil},
		{"method case-sensitive on the wire", []Spec{{Methods: []string{"GET"}}}, req("get", "h", "/", ""), -1, nil},
		{"canary header", []Spec{{Path: "/api/*", Headers: map[string]string{"x-env": "canary"}}, {Path: "/api/*"}}, req("GET", "h", "/api/x", "", "X-Env", "canary"), 0, nil},
		{"canary header falls through", []Spec{{Path: "/api/*", Headers: map[string]string{"x-env": "canary"}}, {Path: "/api/*"}}, req("GET", "h", "/api/x", "", "X-Env", "stable"), 1, nil},
		{"canary header absent", []Spec{{Path: "/api/*", Headers: map[string]string{"x-env": "canary"}}, {Path: "/api/*"}}, get("h", "/api/x"), 1, nil},
		{"header value case-sensitive", []Spec{{Headers: map[string]string{"x-env": "canary"}}}, req("GET", "h", "/", "", "x-env", "Canary"), -1, nil},
		{"header first field decides", []Spec{{Headers: map[string]string{"x-env": "canary"}}}, req("GET", "h", "/", "", "x-env", "stable", "x-env", "canary"), -1, nil},
		{"header present", []Spec{{Headers: map[string]string{"Authorization": "*"}}}, req("GET", "h", "/", "", "authorization", ""), 0, nil},
		{"header present missing", []Spec{{Headers: map[string]string{"Authorization": "*"}}}, get("h", "/"), -1, nil},
		{"header literal star value", []Spec{{Headers: map[string]string{"x": "*"}}}, req("GET", "h", "/", "", "x", "*"), 0, nil},
		{"headers all required", []Spec{{Headers: map[string]string{"a": "1", "b": "2"}}}, req("GET", "h", "/", "", "a", "1"), -1, nil},
		{"query exact", []Spec{{Query: map[string]string{"v": "2"}}}, req("GET", "h", "/", "a=1&v=2"), 0, nil},
		{"query raw not decoded", []Spec{{Query: map[string]string{"q": "a b"}}}, req("GET", "h", "/", "q=a%20b"), -1, nil},
		{"query raw value", []Spec{{Query: map[string]string{"q": "a%20b"}}}, req("GET", "h", "/", "q=a%20b"), 0, nil},
		{"query first occurrence", []Spec{{Query: map[string]string{"v": "2"}}}, req("GET", "h", "/", "v=1&v=2"), -1, nil},
		{"query present", []Spec{{Query: map[string]string{"debug": "*"}}}, req("GET", "h", "/", "debug"), 0, nil},
		{"query present missing", []Spec{{Query: map[string]string{"debug": "*"}}}, req("GET", "h", "/", "debugx=1"), -1, nil},
		{"fall through prefix to shorter prefix", []Spec{{Path: "/a/*"}, {Path: "/a/b/*", Methods: []string{"POST"}}}, get("h", "/a/b/c"), 0, nil},
		{"fall through exact to params", []Spec{{Path: "/u/{id}"}, {Path: "/u/1", Methods: []string{"POST"}}}, get("h", "/u/1"), 0, params("id", "1")},
		{"fall through regex skipped by predicates", []Spec{{Path: "~.", Methods: []string{"POST"}}, {Path: "~^/x"}}, get("h", "/x"), 1, nil},
		{"no params left from a failed candidate", []Spec{{Path: "/u/{id}", Methods: []string{"POST"}}, {Path: "/u/*"}}, get("h", "/u/1"), 1, nil},

		// Listeners.
		{"listener filter", []Spec{{Listeners: []string{"admin"}}, {}}, get("h", "/"), 1, nil},
		{"listener filter match", []Spec{{Listeners: []string{"web", "admin"}, Path: "/"}, {}}, onListener("admin", get("h", "/")), 0, nil},
		{"listener only", []Spec{{Listeners: []string{"admin"}}}, get("h", "/"), -1, nil},

		{"no routes", nil, get("h", "/"), -1, nil},
		{"no match", []Spec{{Host: "a.test", Path: "/a"}}, get("a.test", "/b"), -1, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			table, err := Compile(tc.specs)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			tc.r.Params = params("stale", "x")
			got, ok := table.Match(tc.r)
			if ok != (tc.want >= 0) || ok && got != tc.want {
				t.Fatalf("Match = %d, %v; want %d", got, ok, tc.want)
			}
			if !ok && got != -1 {
				t.Errorf("Match without a route returned index %d, want -1", got)
			}
			if !slices.Equal(tc.r.Params, tc.wantParams) {
				t.Errorf("Params = %v, want %v", tc.r.Params, tc.wantParams)
			}
		})
	}
}

func TestMatchReusesParamsCapacity(t *testing.T) {
	table, err := Compile([]Spec{{Path: "/users/{id}/posts/{pid}"}})
	if err != nil {
		t.Fatal(err)
	}
	r := req("GET", "h", "/users/1/posts/2", "")
	r.Params = make([]httpx.Param, 1, 4)
	backing := &r.Params[:1][0]
	if _, ok := table.Match(r); !ok {
		t.Fatal("no match")
	}
	if &r.Params[0] != backing {
		t.Error("Match replaced r.Params instead of reusing its capacity")
	}
}

// TestMatchConcurrent shares one Table between goroutines, as every connection does; run it
// with -race.
func TestMatchConcurrent(t *testing.T) {
	table, err := Compile(smallSite)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	for range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for range 200 {
				for _, r := range smallSiteRequests() {
					if _, ok := table.Match(r); !ok {
						t.Errorf("%s%s: no match", r.Host, r.Path)
						return
					}
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
