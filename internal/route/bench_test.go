package route

import (
	"fmt"
	"testing"

	"aya/internal/httpx"
)

// smallSite is a typical one-screen config: an API host, a static wildcard, and host-less
// routes with a canary split, a legacy regex and a catch-all.
var smallSite = []Spec{
	{Host: "api.example.com", Path: "/v1/users/{id}"},
	{Host: "api.example.com", Path: "/v1/users/{id}/posts/{pid}"},
	{Host: "api.example.com", Path: "/v1/*"},
	{Host: "*.example.com", Path: "/static/*"},
	{Path: "/healthz"},
	{Path: "/api/*", Headers: map[string]string{"x-env": "canary"}},
	{Path: "/api/*"},
	{Path: "~^/v[0-9]+/legacy/"},
	{Path: "/", Methods: []string{"GET", "HEAD"}},
	{Path: "/*"},
}

func smallSiteRequests() []*httpx.Request {
	return []*httpx.Request{
		req("GET", "api.example.com", "/v1/users/42", ""),
		req("GET", "API.example.com:443", "/v1/users/42/posts/7", ""),
		req("POST", "api.example.com", "/v1/orders", ""),
		req("GET", "cdn.example.com", "/static/app.js", ""),
		req("GET", "www.example.com", "/healthz", ""),
		req("GET", "www.example.com", "/api/items", "", "X-Env", "canary"),
		req("GET", "www.example.com", "/api/items", "", "User-Agent", "curl/8", "Accept", "*/*"),
		req("GET", "other.test", "/v2/legacy/page", ""),
		req("GET", "other.test", "/", ""),
		req("GET", "other.test", "/unknown/path", ""),
	}
}

// largeSite has 1000 routes the way a multi-tenant gateway grows: 40 exact hosts with 20
// routes each, 10 wildcard zones, and 100 host-less routes with predicates and regexes.
func largeSite() []Spec {
	var specs []Spec
	for h := range 40 {
		host := fmt.Sprintf("svc%d.example.com", h)
		for s := range 5 {
			specs = append(specs,
				Spec{Host: host, Path: fmt.Sprintf("/api/v%d/users/{id}", s)},
				Spec{Host: host, Path: fmt.Sprintf("/api/v%d/users/{id}/orders/{oid}", s)},
				Spec{Host: host, Path: fmt.Sprintf("/api/v%d/status", s)},
				Spec{Host: host, Path: fmt.Sprintf("/api/v%d/*", s), Methods: []string{"GET", "POST"}},
			)
		}
	}
	for z := range 10 {
		zone := fmt.Sprintf("*.zone%d.example.net", z)
		for s := range 10 {
			specs = append(specs, Spec{Host: zone, Path: fmt.Sprintf("/app%d/*", s)})
		}
	}
	for i := range 90 {
		specs = append(specs, Spec{Path: fmt.Sprintf("/shared/%d/*", i), Headers: map[string]string{"x-tenant": fmt.Sprint(i)}})
	}
	for i := range 9 {
		specs = append(specs, Spec{Path: fmt.Sprintf("~^/legacy%d/[a-z]+$", i)})
	}
	specs = append(specs, Spec{Path: "/*"})
	return specs
}

func largeSiteRequests() []*httpx.Request {
	return []*httpx.Request{
		req("GET", "svc17.example.com", "/api/v3/users/42", ""),
		req("GET", "SVC3.example.com:8080", "/api/v1/users/42/orders/9", ""),
		req("GET", "svc39.example.com", "/api/v4/status", ""),
		req("POST", "svc0.example.com", "/api/v0/anything/else", ""),
		req("DELETE", "svc0.example.com", "/api/v0/anything/else", ""),
		req("GET", "a.b.zone7.example.net", "/app9/index.html", ""),
		req("GET", "www.example.org", "/shared/55/x", "", "X-Tenant", "55"),
		req("GET", "www.example.org", "/legacy8/page", ""),
		req("GET", "www.example.org", "/nothing/here", ""),
		req("GET", "svc5.example.com", "/api/v9/users/1", ""),
	}
}

func BenchmarkMatch(b *testing.B) {
	for _, site := range []struct {
		name  string
		specs []Spec
		reqs  []*httpx.Request
	}{
		{"routes=10", smallSite, smallSiteRequests()},
		{"routes=1000", largeSite(), largeSiteRequests()},
	} {
		b.Run(site.name, func(b *testing.B) {
			table, err := Compile(site.specs)
			if err != nil {
				b.Fatal(err)
			}
			for _, r := range site.reqs {
				r.Params = make([]httpx.Param, 0, 4)
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				table.Match(site.reqs[i])
				i++
				if i == len(site.reqs) {
					i = 0
				}
			}
		})
	}
}

func BenchmarkCompile(b *testing.B) {
	specs := largeSite()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Compile(specs); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBenchmarkRequestsMatch keeps the benchmark honest: every request reaches the route it is
// meant to exercise.
func TestBenchmarkRequestsMatch(t *testing.T) {
	for _, site := range []struct {
		specs []Spec
		reqs  []*httpx.Request
		want  []int
	}{
		{smallSite, smallSiteRequests(), []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
		{largeSite(), largeSiteRequests(), []int{
			17*20 + 3*4, 3*20 + 1*4 + 1, 39*20 + 4*4 + 2, 3, 999, 800 + 7*10 + 9, 900 + 55, 990 + 8, 999, 999,
		}},
	} {
		table, err := Compile(site.specs)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range site.reqs {
			if got, _ := table.Match(r); got != site.want[i] {
				t.Errorf("%s %s%s: route %d, want %d", r.Method, r.Host, r.Path, got, site.want[i])
			}
		}
	}
}

func TestMatchDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool (inside regexp) drop items, so regex matches allocate")
	}
	for _, site := range []struct {
		specs []Spec
		reqs  []*httpx.Request
	}{
		{smallSite, smallSiteRequests()},
		{largeSite(), largeSiteRequests()},
	} {
		table, err := Compile(site.specs)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range site.reqs {
			r.Params = make([]httpx.Param, 0, 4)
			if n := testing.AllocsPerRun(100, func() { table.Match(r) }); n != 0 {
				t.Errorf("%s %s%s: %v allocations per Match, want 0", r.Method, r.Host, r.Path, n)
			}
		}
	}
}
