package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

const openAPIConfig = `listeners: [{name: web, address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0", token: t0ken}
upstreams:
  - name: u
    targets: [{url: "{{BACKEND}}"}]
routes:
  - {name: api, match: {path: "/api/*"}, upstream: u}
tps:
  pools:
    - name: partner
      capacity: 100
      services: [{name: checkout, priority: high}]
access_log: {output: "{{DIR}}/access.log"}
`

// TestAdminAPIMatchesOpenAPI calls every operation of /openapi.json on a running gateway and
// validates each request and answer against the document; an operation the test does not
// call fails it, so the document cannot describe endpoints that do not exist.
func TestAdminAPIMatchesOpenAPI(t *testing.T) {
	be := backend(t)
	g, dir := testGateway(t, openAPIConfig, be.URL)
	admin := "http://" + g.admin.addr()
	resp, err := http.Get("http://" + g.Addr("web") + "/api/x") // one request for the analytics
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cfgText, err := os.ReadFile(filepath.Join(dir, "aya.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	doc, err := openapi3.NewLoader().LoadFromData(openAPI)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(ctx); err != nil {
		t.Fatalf("openapi.json is not a valid OpenAPI 3 document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: admin}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	opts := &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}

	target := be.URL
	cases := []struct {
		method, path, body string
		token              bool
		want               int // 0: any status the document allows
	}{
		{"GET", "/health", "", false, 200},
		{"GET", "/ready", "", false, 200},
		{"GET", "/openapi.json", "", false, 200},
		{"GET", "/metrics", "", true, 200},
		{"GET", "/metrics", "", false, 401},
		{"GET", "/config", "", true, 200},
		{"GET", "/config/status", "", true, 200},
		{"POST", "/config/validate", string(cfgText), true, 200},
		{"POST", "/config/validate", "listeners: [{name: web, address: \"127.0.0.1:0\"}]\nroutes: [{name: r, upstream: nope}]\n", true, 400},
		{"PUT", "/config", string(cfgText) + "# again\n", true, 200},
		{"PUT", "/config", "upstreams: [{name: u, balance: fastest, targets: [{url: \"http://127.0.0.1:9\"}]}]\n", true, 400},
		{"POST", "/reload", "", true, 200},
		{"GET", "/routes", "", true, 200},
		{"GET", "/upstreams", "", true, 200},
		{"POST", "/upstreams/u/drain?target=" + target, "", true, 200},
		{"POST", "/upstreams/u/undrain?target=" + target, "", true, 200},
		{"POST", "/upstreams/u/drain?target=http://nowhere:1", "", true, 404},
		{"POST", "/upstreams/u/targets", `{"url": "http://127.0.0.1:9", "weight": 2}`, true, 200},
		{"DELETE", "/upstreams/u/targets?target=http://127.0.0.1:9", "", true, 200},
		{"DELETE", "/upstreams/u/targets?target=http://127.0.0.1:9", "", true, 404},
		{"GET", "/tps", "", true, 200},
		{"GET", "/analytics", "", true, 0}, // 200 once the store rolled the request up, 404 before
		{"GET", "/analytics?dimension=route", "", true, 200},
		{"GET", "/analytics/requests?limit=5", "", true, 200},
		{"GET", "/analytics/requests/nope", "", true, 404},
		{"GET", "/alerts", "", true, 200},
	}
	called := map[string]bool{}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, admin+c.path, strings.NewReader(c.body))
		switch {
		case strings.HasPrefix(c.path, "/config"):
			req.Header.Set("Content-Type", "application/yaml")
		case c.body != "":
			req.Header.Set("Content-Type", "application/json")
		}
		if c.token {
			req.Header.Set("Authorization", "Bearer t0ken")
		}
		route, params, err := router.FindRoute(req)
		if err != nil {
			t.Errorf("%s %s: not in openapi.json: %v", c.method, c.path, err)
			continue
		}
		called[c.method+" "+route.Path] = true
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts}
		if c.want != 0 && c.want < 300 {
			if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
				t.Errorf("%s %s: request does not match the document: %v", c.method, c.path, err)
			}
			req.Body = io.NopCloser(strings.NewReader(c.body))
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if c.want != 0 && resp.StatusCode != c.want {
			t.Errorf("%s %s: status %d, want %d: %s", c.method, c.path, resp.StatusCode, c.want, body)
			continue
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Options: opts}
		out.SetBodyBytes(body)
		if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
			t.Errorf("%s %s → %d: answer does not match the document: %v\n%s", c.method, c.path, resp.StatusCode, err, bytes.TrimSpace(body))
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !called[method+" "+path] {
				t.Errorf("openapi.json describes %s %s but the test never calls it", method, path)
			}
		}
	}
}
