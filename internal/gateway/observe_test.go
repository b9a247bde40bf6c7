package gateway

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"aya/internal/config"
	"aya/internal/httpx"
	"aya/internal/observe"
	"aya/internal/proxy"
)

// testGateway starts a gateway from a config text; {{BACKEND}} and {{DIR}} are replaced.
func testGateway(t testing.TB, text, backend string) (*Gateway, string) {
	t.Helper()
	dir := t.TempDir()
	text = strings.ReplaceAll(strings.ReplaceAll(text, "{{BACKEND}}", backend), "{{DIR}}", dir)
	path := filepath.Join(dir, "aya.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	return g, dir
}

// copySink keeps copies of the records it sees.
type copySink struct {
	mu   sync.Mutex
	recs []observe.Record
}

func (c *copySink) Record(r *observe.Record) {
	cp := *r
	for _, s := range []*string{&cp.ID, &cp.Listener, &cp.Route, &cp.Upstream, &cp.Target, &cp.Method, &cp.Host, &cp.Path, &cp.Proto, &cp.UserAgent, &cp.Error} {
		*s = strings.Clone(*s)
	}
	c.mu.Lock()
	c.recs = append(c.recs, cp)
	c.mu.Unlock()
}

func (c *copySink) all() []observe.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]observe.Record(nil), c.recs...)
}

const observeConfig = `listeners: [{name: web, address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
upstreams:
  - name: u
    targets: [{url: "{{BACKEND}}"}]
routes:
  - {name: api, match: {path: "/api/*"}, upstream: u}
  - {name: quiet, match: {path: "/quiet"}, upstream: u, access_log: false}
access_log: {output: "{{DIR}}/access.log"}
`

func backend(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Traceparent-Seen", r.Header.Get("traceparent"))
		if r.URL.Query().Get("status") == "503" {
			w.WriteHeader(503)
		}
		w.Write([]byte("hello"))
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestRequestsAreRecorded(t *testing.T) {
	be := backend(t)
	g, dir := testGateway(t, observeConfig, be.URL)
	sink := &copySink{}
	remove := g.Sinks().Add(sink)
	defer remove()
	base := "http://" + g.Addr("web")

	do := func(method, path, body string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}
	do("GET", "/api/a", "", map[string]string{"X-Request-ID": "req-1", "User-Agent": "obs-test"})
	do("POST", "/api/b", "12345", map[string]string{"X-Request-ID": "req-2"})
	do("GET", "/api/c?status=503", "", map[string]string{"X-Request-ID": "req-3"})
	do("GET", "/nowhere", "", map[string]string{"X-Request-ID": "req-4"})
	do("GET", "/quiet", "", map[string]string{"X-Request-ID": "req-5"})

	recs := sink.all()
	if len(recs) != 5 {
		t.Fatalf("%d records", len(recs))
	}
	byID := map[string]observe.Record{}
	for _, r := range recs {
		byID[r.ID] = r
	}
	a := byID["req-1"]
	if a.Route != "api" || a.Upstream != "u" || a.Target != be.URL || a.Status != 200 || a.BytesOut != 5 || a.Method != "GET" ||
		a.Path != "/api/a" || a.UserAgent != "obs-test" || a.Listener != "web" || a.Proto != "HTTP/1.1" || !a.ClientIP.IsLoopback() {
		t.Errorf("req-1 record %+v", a)
	}
	if a.Duration <= 0 || a.UpstreamTime <= 0 || a.UpstreamTime > a.Duration || a.TTFB <= 0 || a.TTFB > a.Duration {
		t.Errorf("req-1 durations: total %v upstream %v ttfb %v", a.Duration, a.UpstreamTime, a.TTFB)
	}
	if b := byID["req-2"]; b.BytesIn != 5 || b.BytesOut != 10 || b.Method != "POST" {
		t.Errorf("req-2 record %+v", b)
	}
	if c := byID["req-3"]; c.Status != 503 || c.Error != "" {
		t.Errorf("an upstream's 503 is not aya's error: %+v", c)
	}
	if d := byID["req-4"]; d.Status != 404 || d.Route != "" || !strings.Contains(d.Error, "no route matches") {
		t.Errorf("unmatched: %+v", d)
	}

	// The access log has every request but the quiet route's, as JSON lines.
	g.snap.Load().obs.access.Sync()
	f, err := os.Open(filepath.Join(dir, "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	seen := map[string]map[string]any{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not JSON: %s", sc.Text())
		}
		seen[m["request_id"].(string)] = m
	}
	if len(seen) != 4 || seen["req-5"] != nil {
		t.Fatalf("access log has %d lines (want 4, none for the quiet route): %v", len(seen), seen)
	}
	if m := seen["req-1"]; m["route"] != "api" || m["status"] != float64(200) || m["target"] != be.URL || m["msg"] != "access" {
		t.Errorf("req-1 line %v", m)
	}

	// Metrics carry the same requests, by route, method and class.
	resp, err := http.Get("http://" + g.admin.addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`aya_requests_total{code_class="2xx",method="GET",route="api",upstream="u"} 1`,
		`aya_requests_total{code_class="2xx",method="POST",route="api",upstream="u"} 1`,
		`aya_requests_total{code_class="5xx",method="GET",route="api",upstream="u"} 1`,
		`aya_requests_total{code_class="4xx",method="GET",route="",upstream=""} 1`,
		`aya_requests_total{code_class="2xx",method="GET",route="quiet",upstream="u"} 1`,
		`aya_upstream_requests_total{code_class="2xx",target="` + be.URL + `",upstream="u"} 3`,
		`aya_request_body_bytes_total{route="api"} 5`,
		`aya_response_body_bytes_total{route="api"} 20`,
		`aya_requests_in_flight 0`,
		`aya_upstream_target_state{state="healthy",target="` + be.URL + `",upstream="u"} 1`,
		`aya_upstream_circuit_breaker_state{state="closed",target="` + be.URL + `",upstream="u"} 1`,
		`aya_upstream_connections{state="idle",target="` + be.URL + `",upstream="u"} 1`,
		`aya_client_connections{listener="web",protocol="h1"}`,
		`aya_config_last_reload_successful 1`,
		`aya_request_duration_seconds_count{route="api",upstream="u"} 3`,
		`aya_upstream_request_duration_seconds_count{target="` + be.URL + `",upstream="u"} 4`,
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(string(text), "/api/a") || strings.Contains(string(text), "127.0.0.1\"") {
		t.Error("/metrics has a raw path or client address as a label")
	}
}

func TestReloadKeepsAccessLogAndSwapsIt(t *testing.T) {
	be := backend(t)
	g, dir := testGateway(t, observeConfig, be.URL)
	first := g.snap.Load().obs.logRes
	cfg, err := config.Parse(filepath.Join(dir, "aya.yaml"), []byte(strings.ReplaceAll(strings.ReplaceAll(observeConfig, "{{BACKEND}}", be.URL), "{{DIR}}", dir)+"\n# same\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if g.snap.Load().obs.logRes != first {
		t.Fatal("an unchanged access_log was reopened on reload")
	}
	text := strings.ReplaceAll(strings.ReplaceAll(observeConfig, "{{BACKEND}}", be.URL), "{{DIR}}", dir)
	text = strings.Replace(text, `access_log: {output: "`+dir+`/access.log"}`, `access_log: {output: "`+dir+`/other.log", format: common}`, 1)
	cfg, err = config.Parse(filepath.Join(dir, "aya.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if g.snap.Load().obs.logRes == first {
		t.Fatal("a changed access_log kept the old file")
	}
	resp, err := http.Get("http://" + g.Addr("web") + "/api/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	g.snap.Load().obs.access.Sync()
	b, _ := os.ReadFile(filepath.Join(dir, "other.log"))
	if !strings.Contains(string(b), `"GET /api/x HTTP/1.1" 200 5`) {
		t.Fatalf("common log after reload: %q", b)
	}
}

// fakeTransport answers every exchange with a small 200 without a network.
type fakeTransport struct{}

type fakeBody struct{ n int }

func (b *fakeBody) Read(p []byte) (int, error) {
	if b.n == 0 {
		return 0, io.EOF
	}
	b.n = 0
	return copy(p, "ok"), nil
}
func (b *fakeBody) Close() error {
	fakeBodies.Put(b)
	return nil
}

var fakeBodies = sync.Pool{New: func() any { return new(fakeBody) }}

func (fakeTransport) Do(_ context.Context, _ *httpx.Request, resp *httpx.Response) error {
	b := fakeBodies.Get().(*fakeBody)
	b.n = 2
	resp.Status, resp.ContentLength, resp.Body = 200, 2, b
	return nil
}
func (fakeTransport) Close() {}

// nopWriter is an in-memory ResponseWriter that keeps nothing.
type nopWriter struct{ h httpx.Header }

func (w *nopWriter) Header() *httpx.Header       { return &w.h }
func (w *nopWriter) WriteHeader(int)             {}
func (w *nopWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *nopWriter) Flush() error                { return nil }

// benchGateway is a gateway whose targets answer in memory, so that a benchmark measures aya.
func benchGateway(b testing.TB, extra string) *Gateway {
	dir := b.TempDir()
	cfg, err := config.Parse(filepath.Join(dir, "aya.yaml"), []byte(`listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams: [{name: u, targets: [{url: "http://127.0.0.1:9"}]}]
routes: [{name: api, match: {path: "/api/*"}, upstream: u}]
`+extra))
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
	return g
}

func benchRequest() *httpx.Request {
	r := &httpx.Request{Method: "GET", Target: "/api/x", Path: "/api/x", Host: "example.com", Proto: "HTTP/1.1",
		ProtoMajor: 1, ProtoMinor: 1, Listener: "web", Body: httpx.NoBody,
		Header: httpx.Header{{Name: "Host", Value: "example.com"}, {Name: "User-Agent", Value: "bench"}, {Name: "Accept", Value: "*/*"}}}
	r.RemoteAddr, r.LocalAddr = netip.MustParseAddrPort("10.0.0.7:40000"), netip.MustParseAddrPort("127.0.0.1:8080")
	return r
}

// BenchmarkDispatch is one proxied request through the dispatcher: route match, request id,
// proxy to an in-memory target, and recording. "bare" is the same path with no recording at
// all (what the dispatcher did before observability), so the differences are what metrics,
// the access log and tracing add per request. cpu-ns/op is the process's CPU time (the access
// log's writer goroutine and the GC included) per request: steadier than ns/op on a shared
// machine.
func BenchmarkDispatch(b *testing.B) {
	cases := []struct{ name, extra string }{
		{"bare", "access_log: {enabled: false}\n"},
		{"metrics", "access_log: {enabled: false}\n"},
		{"metrics+analytics", "access_log: {enabled: false}\n"},
		{"metrics+json_log", "access_log: {output: /dev/null, max_size: 0}\n"},
		{"metrics+common_log", "access_log: {output: /dev/null, max_size: 0, format: common}\n"},
		{"metrics+json_log+trace_unsampled", "access_log: {output: /dev/null, max_size: 0}\ntracing: {endpoint: \"http://127.0.0.1:9\", sample: 0}\n"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			g := benchGateway(b, c.extra)
			r := benchRequest()
			w := &nopWriter{h: make(httpx.Header, 0, 8)}
			serve := g.disp.ServeHTTPX
			switch c.name {
			case "bare":
				serve = g.bareDispatch
			case "metrics+analytics":
			default:
				// The analytics store is another sink with its own benchmarks; leave it out to
				// see what metrics, logs and traces cost.
				g.disp.sinks = &observe.Fanout{}
			}
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				w.h = w.h[:0]
				serve(w, r)
			}
			b.ReportMetric(float64(processCPU()-cpu)/float64(b.N), "cpu-ns/op")
		})
	}
}

// bareDispatch is the dispatcher without recording, the benchmarks' baseline.
func (g *Gateway) bareDispatch(w httpx.ResponseWriter, r *httpx.Request) {
	s := g.snap.Load()
	r.ClientIP = proxy.ClientIP(r, s.trust[r.Listener])
	st := reqStates.Get().(*reqState)
	defer reqStates.Put(st)
	if id := r.Header.Get("X-Request-ID"); validRequestID(id) {
		r.ID = id
	} else {
		g.disp.ids.next(&st.id, time.Now())
		r.ID = unsafe.String(&st.id[0], len(st.id))
	}
	if i, ok := s.table.Match(r); ok {
		s.handlers[i].ServeHTTPX(w, r)
	}
}

func TestDispatchRecordsWithoutAllocating(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	g := benchGateway(t, "access_log: {output: /dev/null, max_size: 0}\n")
	r := benchRequest()
	w := &nopWriter{h: make(httpx.Header, 0, 8)}
	g.disp.ServeHTTPX(w, r) // warm the pools and the first-use series
	allocs := testing.AllocsPerRun(200, func() {
		w.h = w.h[:0]
		g.disp.ServeHTTPX(w, r)
	})
	if allocs > 0 {
		t.Fatalf("%.1f allocations per request", allocs)
	}
}

func TestConsumerReachesTheRecord(t *testing.T) {
	g := benchGateway(t, "access_log: {enabled: false}\n")
	sink := &copySink{}
	g.Sinks().Add(sink)
	next := g.snap.Load().handlers[0]
	g.snap.Load().handlers[0] = httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		observe.NoteConsumer(r, "alice")
		next.ServeHTTPX(w, r)
	})
	g.disp.ServeHTTPX(&nopWriter{}, benchRequest())
	g.disp.ServeHTTPX(&nopWriter{}, &httpx.Request{Method: "GET", Path: "/other", Body: httpx.NoBody})
	recs := sink.all()
	if len(recs) != 2 || recs[0].Consumer != "alice" || recs[1].Consumer != "" {
		t.Fatalf("records %+v", recs)
	}
	observe.NoteConsumer(&httpx.Request{}, "nobody") // no noter: nothing happens
}

func TestLLMRequestsHaveTheirOwnRouteLabel(t *testing.T) {
	g := benchGateway(t, `access_log: {enabled: false}
llm:
  providers: [{name: oa, type: openai, base_url: "http://127.0.0.1:9/v1", api_key: sk-test}]
  models: [{name: gpt, deployments: [{provider: oa, model: gpt-4o}]}]
`)
	sink := &copySink{}
	g.Sinks().Add(sink)
	r := &httpx.Request{Method: "GET", Target: "/v1/models", Path: "/v1/models", Host: "x", Proto: "HTTP/1.1", Listener: "web", Body: httpx.NoBody}
	g.disp.ServeHTTPX(&nopWriter{}, r)
	recs := sink.all()
	if len(recs) != 1 || recs[0].Route != llmRoute {
		t.Fatalf("records %+v", recs)
	}
}

func TestHTTP2RequestsAreRecorded(t *testing.T) {
	be := backend(t)
	g, _ := testGateway(t, `listeners: [{name: web, address: "127.0.0.1:0", h2c: true}]
admin: {address: "127.0.0.1:0"}
upstreams: [{name: u, targets: [{url: "{{BACKEND}}"}]}]
routes: [{name: api, match: {path: "/api/*"}, upstream: u}]
access_log: {enabled: false}
`, be.URL)
	sink := &copySink{}
	g.Sinks().Add(sink)
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	c := &http.Client{Transport: &http.Transport{Protocols: &protos}}
	defer c.CloseIdleConnections()
	resp, err := c.Post("http://"+g.Addr("web")+"/api/h2", "text/plain", strings.NewReader("abc"))
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		t.Fatalf("proto %s", resp.Proto)
	}
	recs := sink.all()
	if len(recs) != 1 || recs[0].Proto != "HTTP/2.0" || recs[0].Status != 200 || recs[0].BytesIn != 3 || recs[0].BytesOut != 8 || recs[0].Route != "api" {
		t.Fatalf("records %+v", recs)
	}
	mresp, err := http.Get("http://" + g.admin.addr() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	if !strings.Contains(string(text), `aya_client_connections{listener="web",protocol="h2"} 1`) {
		t.Errorf("/metrics lacks the open HTTP/2 connection:\n%s", grepLines(string(text), "aya_client_connections"))
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func TestFailedObsBuildKeepsTheRunningAccessLog(t *testing.T) {
	be := backend(t)
	g, _ := testGateway(t, observeConfig, be.URL)
	old := g.snap.Load()
	cfg := *old.cfg
	cfg.Tracing = &config.Tracing{Endpoint: "not a url"}
	if _, err := buildObs(&cfg, old, old, g.metrics); err == nil {
		t.Fatal("a tracer that cannot start must fail the build")
	}
	before := old.obs.access.Dropped()
	old.obs.access.Record(&observe.Record{Status: 200})
	if old.obs.access.Dropped() != before {
		t.Fatal("the failed build closed the running access log")
	}
}

func TestNoLLMSeriesWithoutLLM(t *testing.T) {
	g := benchGateway(t, "access_log: {enabled: false}\n")
	fams, err := g.metrics.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == llmRoute {
					t.Fatalf("%s has a %s series without llm: configured", f.GetName(), llmRoute)
				}
			}
		}
	}
}

// A context derived from a request may outlive the handler (a library's timer, a leaked
// cancel): when it fires, it must not reach per-request memory the pool has reused (CI once
// saw a nil-pointer panic in a timer goroutine when the pooled state was the context).
func TestDerivedContextOutlivesTheRequest(t *testing.T) {
	g := benchGateway(t, "access_log: {enabled: false}\n")
	var leaked []context.Context
	var cancels []context.CancelFunc
	g.snap.Load().handlers[0] = httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Millisecond)
		leaked, cancels = append(leaked, ctx), append(cancels, cancel) // canceled only after the timers fired
		w.WriteHeader(204)
	})
	base, cancel := context.WithCancel(context.Background())
	defer cancel()
	for range 50 {
		r := benchRequest()
		r.SetContext(base)
		g.disp.ServeHTTPX(&nopWriter{}, r)
	}
	for _, ctx := range leaked {
		<-ctx.Done() // each timer fired after its request's state went back to the pool
	}
	for _, c := range cancels {
		c()
	}
}
