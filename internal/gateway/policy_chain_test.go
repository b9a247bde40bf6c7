package gateway

import (
	"log/slog"
	"path/filepath"
	"testing"

	"aya/internal/config"
	"aya/internal/httpx"
	"aya/internal/observe"
)

// BenchmarkDispatchChain is issue 5's evidence: what a typical API-gateway chain (API-key auth,
// a per-consumer rate limit, a request/response header transform) adds per request over plain
// proxying, through the real dispatcher with an in-memory target. Compare the cpu-ns/op of
// the sub-benchmarks.
func BenchmarkDispatchChain(b *testing.B) {
	const transform = `{transform: {request: {headers: {set: {X-Consumer: "${consumer}"}, remove: [X-Debug]}}, response: {headers: {set: {X-Frame-Options: DENY}}}}}`
	cases := []struct{ name, policies string }{
		{"plain", ""},
		{"auth", `[{auth: {api_key: {header: X-API-Key}}}]`},
		{"auth+ratelimit", `[{auth: {api_key: {header: X-API-Key}}}, {rate_limit: {key: consumer, rate: 1000000000/s, burst: 1000000000}}]`},
		{"auth+ratelimit+transform", `[{auth: {api_key: {header: X-API-Key}}}, {rate_limit: {key: consumer, rate: 1000000000/s, burst: 1000000000}}, ` + transform + `]`},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			pol := ""
			if c.policies != "" {
				pol = ", policies: " + c.policies
			}
			benchDispatch(b, `listeners: [{name: web, address: "127.0.0.1:0"}]
consumers: [{name: alice, groups: [paid], api_keys: ["alice-key-0123456789"]}]
upstreams: [{name: u, targets: [{url: "http://127.0.0.1:9"}]}]
routes: [{name: api, match: {path: "/api/*"}, upstream: u`+pol+`}]
access_log: {enabled: false}
`, httpx.Field{Name: "X-API-Key", Value: "alice-key-0123456789"})
		})
	}
}

// chainWriter is nopWriter that keeps the status, to check the chain lets the request through.
type chainWriter struct {
	nopWriter
	status int
}

func (w *chainWriter) WriteHeader(s int) { w.status = s }

// benchDispatch serves one request per iteration through the dispatcher of a gateway built from
// cfgText, whose targets answer in memory, and reports the CPU each request took. extra header
// fields are added to the benchmark request; the first request must pass the route's policies.
func benchDispatch(b *testing.B, cfgText string, extra ...httpx.Field) {
	cfg, err := config.Parse(filepath.Join(b.TempDir(), "aya.yaml"), []byte(cfgText))
	if err != nil {
		b.Fatal(err)
	}
	g, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range g.snap.Load().pools {
		for _, t := range p.pool.Targets() {
			t.Transport = fakeTransport{}
		}
	}
	b.Cleanup(func() { g.snap.Load().obs.closeNotIn(nil) })
	g.disp.sinks = &observe.Fanout{}
	r := benchRequest()
	base := append(append(httpx.Header(nil), r.Header...), extra...)
	hdr := make(httpx.Header, 0, 16)
	w := &chainWriter{nopWriter: nopWriter{h: make(httpx.Header, 0, 8)}}
	r.Header = append(hdr[:0], base...)
	g.disp.ServeHTTPX(w, r)
	if w.status != 0 && w.status != 200 {
		b.Fatalf("the route answered %d", w.status)
	}
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		w.h = w.h[:0]
		r.Header = append(hdr[:0], base...)
		g.disp.ServeHTTPX(w, r)
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
}
