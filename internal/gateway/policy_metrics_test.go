package gateway

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestPolicyMetrics: rate-limit refusals and the response cache's hits and misses show on the
// admin /metrics.
func TestPolicyMetrics(t *testing.T) {
	be := backend(t)
	g, _ := testGateway(t, `listeners: [{name: web, address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
upstreams: [{name: u, targets: [{url: "{{BACKEND}}"}]}]
routes:
  - {name: limited, match: {path: "/limited"}, upstream: u, policies: [{rate_limit: {key: ip, rate: 1/m, burst: 1}}]}
  - {name: cached, match: {path: "/cached"}, upstream: u, policies: [{cache: {ttl: 1m}}]}
`, be.URL)
	web := "http://" + g.Addr("web")
	for _, p := range []string{"/limited", "/limited", "/limited", "/cached", "/cached"} {
		resp, err := http.Get(web + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	resp, err := http.Get("http://" + g.admin.addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`aya_rate_limit_rejections_total{limit="rate",route="limited"} 2`,
		`aya_cache_requests_total{result="miss"} 1`,
		`aya_cache_requests_total{result="hit"} 1`,
		`aya_cache_entries 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if t.Failed() {
		for _, l := range strings.Split(string(body), "\n") {
			if strings.HasPrefix(l, "aya_cache") || strings.HasPrefix(l, "aya_rate_limit") {
				t.Log(l)
			}
		}
	}
}
