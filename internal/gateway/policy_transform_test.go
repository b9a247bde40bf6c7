package gateway

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"aya/internal/config"
)

// echoBackend answers with what it got, as JSON: path, query, the X- headers and the body.
func echoBackend(t testing.TB) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hdr := map[string]string{}
		for k := range r.Header {
			if strings.HasPrefix(k, "X-") {
				hdr[k] = r.Header.Get(k)
			}
		}
		out, _ := json.Marshal(map[string]any{"path": r.URL.Path, "query": r.URL.RawQuery, "headers": hdr, "body": string(body), "secret": "s"})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Server", "echo")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTransformPoliciesThroughTheGateway(t *testing.T) {
	dir := t.TempDir()
	text := `listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams: [{name: echo, targets: [{url: "` + echoBackend(t).URL + `"}]}]
routes:
  - name: edit
    match: {path: "/edit/*"}
    policies:
      - transform:
          request:
            headers: {set: {X-Route: "${route}", X-Client: "${client_ip}"}, remove: [X-Debug]}
            query: {add: {via: aya}}
          response:
            headers: {remove: [Server], set: {X-Edited: "yes"}}
            body: {remove: [secret]}
      - rewrite: {prefix: {from: /edit, to: /v2}}
    upstream: echo
  - name: moved
    match: {path: "/old/*"}
    policies: [{redirect: {to: "https://example.com${path}", status: 301}}]
  - name: hello
    match: {path: "/hello"}
    policies: [{static: {body: "hi", headers: {X-Static: "1"}}}]
  - name: both
    match: {path: "/both/{id}"}
    policies:
      - aggregate:
          calls:
            - {name: a, upstream: echo, path: "/a/${param.id}", required: true}
            - {name: b, upstream: echo, path: "/b?x=${param.id}"}
`
	cfg, err := config.Parse(filepath.Join(dir, "aya.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		s := g.snap.Load()
		s.closePolicies()
		s.obs.closeNotIn(nil)
	}()
	get := func(path string, hdr ...string) *trafficRecorder {
		w := &trafficRecorder{}
		p, q, _ := strings.Cut(path, "?")
		r := trafficRequest(p, "192.0.2.1", hdr...)
		r.Query = q
		g.disp.ServeHTTPX(w, r)
		return w
	}

	w := get("/edit/x?a=1", "X-Debug", "1")
	var got struct {
		Path, Query string
		Headers     map[string]string
		Secret      *string
	}
	if err := json.Unmarshal(w.body.Bytes(), &got); err != nil {
		t.Fatalf("%d %s: %v", w.status, w.body.String(), err)
	}
	if got.Path != "/v2/x" || got.Query != "a=1&via=aya" || got.Headers["X-Route"] != "edit" ||
		got.Headers["X-Client"] != "192.0.2.1" || got.Headers["X-Debug"] != "" || got.Secret != nil {
		t.Errorf("upstream saw %+v", got)
	}
	if w.h.Has("Server") || w.h.Get("X-Edited") != "yes" || w.h.Get("Content-Length") != itoaTest(w.body.Len()) {
		t.Errorf("response header %v (body %d bytes)", w.h, w.body.Len())
	}

	if w := get("/old/page?q=1"); w.status != 301 || w.h.Get("Location") != "https://example.com/old/page" {
		t.Errorf("redirect: %d %v", w.status, w.h)
	}
	if w := get("/hello"); w.status != 200 || w.body.String() != "hi" || w.h.Get("X-Static") != "1" {
		t.Errorf("static: %d %v %q", w.status, w.h, w.body.String())
	}

	w = get("/both/7")
	var agg map[string]map[string]any
	if err := json.Unmarshal(w.body.Bytes(), &agg); err != nil || w.status != 200 {
		t.Fatalf("aggregate: %d %s", w.status, w.body.String())
	}
	if agg["a"]["path"] != "/a/7" || agg["b"]["query"] != "x=7" {
		t.Errorf("aggregate: %s", w.body.String())
	}
}

func itoaTest(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// BenchmarkDispatchTransform is one proxied request through the dispatcher (in-memory target,
// no access log) on a plain route, and on routes with a constant request/response header
// transform and a prefix rewrite: the differences are what those policies add per request.
func BenchmarkDispatchTransform(b *testing.B) {
	cases := []struct{ name, policies string }{
		{"plain", ""},
		{"headers", `[{transform: {request: {headers: {set: {X-Env: prod}, remove: [X-Debug]}}, response: {headers: {set: {X-Frame-Options: DENY}}}}}]`},
		{"headers+rewrite", `[{transform: {request: {headers: {set: {X-Env: prod}, remove: [X-Debug]}}, response: {headers: {set: {X-Frame-Options: DENY}}}}}, {rewrite: {prefix: {from: /api, to: /v1}}}]`},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			pol := ""
			if c.policies != "" {
				pol = ", policies: " + c.policies
			}
			benchDispatch(b, `listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams: [{name: u, targets: [{url: "http://127.0.0.1:9"}]}]
routes: [{name: api, match: {path: "/api/*"}, upstream: u`+pol+`}]
access_log: {enabled: false}
`)
		})
	}
}
