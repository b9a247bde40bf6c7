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
	"golang.org/x/crypto/bcrypt"

	llmdemo "aya/internal/demo/llm"
	"aya/internal/policy/consumer"
)

const openAPIConfig = `listeners: [{name: web, address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0", token: t0ken}
upstreams:
  - name: u
    targets: [{url: "{{BACKEND}}"}]
routes:
  - {name: api, match: {path: "/api/*"}, upstream: u}
  - name: orders
    match: {path: "/orders/*"}
    policies: [{auth: {api_key: {header: X-API-Key}}}]
    upstream: u
  - name: cached
    match: {path: "/cached/*"}
    policies: [{cache: {ttl: 1m}}]
    upstream: u
cache: {max_size: 1MB}
consumers:
  - {name: alice, groups: [staff], api_keys: [alice-key-0123456789]}
apis:
  - {name: orders, routes: [orders], subscription_required: true}
subscriptions:
  - {consumer: alice, api: orders}
llm:
  providers:
    - {name: oa, type: openai, base_url: "http://{{LLM}}/v1", api_key: sk-upstream}
  models:
    - {name: gpt, aliases: [smart], deployments: [{provider: oa, model: gpt-4o, cost: {input: 2, output: 10}}]}
  keys:
    - {key: sk-config, name: ops, budget: {tokens: 100000}}
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, llmAddr, err := llmdemo.Start(ctx, "127.0.0.1:0", llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	be := backend(t)
	g, dir := testGateway(t, strings.ReplaceAll(openAPIConfig, "{{LLM}}", llmAddr.String()), be.URL)
	admin, web := "http://"+g.admin.addr(), "http://"+g.Addr("web")
	// One request for the analytics, two through the cache, one LLM call for the call log.
	for _, path := range []string{"/api/x", "/cached/x", "/cached/x"} {
		resp, err := http.Get(web + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	llmReq, _ := http.NewRequest("POST", web+"/v1/chat/completions",
		strings.NewReader(`{"model": "gpt", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}`))
	llmReq.Header.Set("Authorization", "Bearer sk-config")
	llmReq.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(llmReq)
	if err != nil {
		t.Fatal(err)
	}
	llmBody, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("LLM call through the gateway: %d %s", resp.StatusCode, llmBody)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte("bob-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bob := `{"name": "bob", "tenant": "acme", "groups": ["paid"], "metadata": {"plan": "gold"}, "api_keys": ["bob-key-0123456789"],
		"basic": {"username": "bob", "password_hash": "` + string(hash) + `"}, "jwt": {"subject": "bob@example.com"}}`
	bobSub := "/subscriptions/" + consumer.SubscriptionID("bob", "orders")
	cfgText, err := os.ReadFile(filepath.Join(dir, "aya.yaml"))
	if err != nil {
		t.Fatal(err)
	}

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
		{"GET", "/cluster", "", true, 200},
		{"GET", "/consumers", "", true, 200},
		{"POST", "/consumers", bob, true, 201},
		{"POST", "/consumers", `{"name": "no spaces"}`, true, 400},
		{"POST", "/consumers", `{"name": "carol", "api_keys": ["alice-key-0123456789"]}`, true, 409},
		{"GET", "/consumers/bob", "", true, 200},
		{"GET", "/consumers/nobody", "", true, 404},
		{"POST", "/consumers/bob/keys", "", true, 201},
		{"POST", "/consumers/nobody/keys", "", true, 404},
		{"GET", "/apis", "", true, 200},
		{"POST", "/subscriptions", `{"consumer": "alice", "api": "orders"}`, true, 200}, // the file's, approved
		{"POST", "/subscriptions", `{"consumer": "bob", "api": "orders"}`, true, 201},
		{"POST", "/subscriptions", `{"consumer": "bob", "api": "nope"}`, true, 404},
		{"POST", "/subscriptions", `{"consumer": "bob"`, true, 400},
		{"POST", bobSub + "/approve", "", true, 200},
		{"POST", "/subscriptions/sub_nope/approve", "", true, 404},
		{"POST", bobSub + "/revoke", "", true, 200},
		{"POST", "/subscriptions/sub_nope/revoke", "", true, 404},
		{"GET", "/subscriptions", "", true, 200},
		{"DELETE", "/consumers/bob", "", true, 200},
		{"DELETE", "/consumers/bob", "", true, 404},
		{"DELETE", "/consumers/alice", "", true, 409},
		{"GET", "/cache", "", true, 200},
		{"POST", "/cache/purge", `{"prefix": "/cached/"}`, true, 200},
		{"POST", "/cache/purge", `{"prefix": "/cached/", "tag": "t"}`, true, 400},
		{"POST", "/llm/keys", `{"name": "team-a", "models": ["smart"], "rpm": 60, "tpm": 6000, "budget": {"usd": 5, "period": "day"}}`, true, 201},
		{"POST", "/llm/keys", `{"name": "team-a"}`, true, 409},
		{"POST", "/llm/keys", `{"name": "x", "models": ["nope"]}`, true, 400},
		{"GET", "/llm/keys", "", true, 200},
		{"DELETE", "/llm/keys/team-a", "", true, 200},
		{"DELETE", "/llm/keys/team-a", "", true, 404},
		{"DELETE", "/llm/keys/ops", "", true, 409},
		{"GET", "/llm/calls?key=ops&limit=5", "", true, 200},
		{"GET", "/llm/calls?limit=0", "", true, 400},
		{"GET", "/llm/calls?priority=high", "", true, 200},
		{"GET", "/llm/calls?priority=urgent", "", true, 400},
		{"GET", "/llm/deployments", "", true, 200},
	}
	// What some answers must show, beyond matching the document: the setup's traffic.
	answerHas := map[string]string{
		"GET /llm/calls?key=ops&limit=5 ":          `"key": "ops"`,
		`POST /cache/purge {"prefix": "/cached/"}`: `"purged": 1`,
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
		if wantIn, ok := answerHas[c.method+" "+c.path+" "+c.body]; ok && !bytes.Contains(body, []byte(wantIn)) {
			t.Errorf("%s %s: the answer lacks %s: %s", c.method, c.path, wantIn, body)
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
