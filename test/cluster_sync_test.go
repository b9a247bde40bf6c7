package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	llmdemo "aya/internal/demo/llm"
)

const clusterLLMConfig = `
listeners: [{name: web, address: "{{WEB}}"}]
admin: {address: "{{ADMIN}}"}
access_log: {enabled: false}
cluster: {redis: "redis://{{REDIS}}", node: {{NODE}}}
upstreams: [{name: app, targets: [{url: "{{BACKEND}}"}]}]
routes:
  - name: cached
    match: {path: "/c/*"}
    policies:
      - cache: {ttl: 60s}
    upstream: app
llm:
  providers:
    - {name: oa, type: openai, base_url: "http://{{LLM}}/v1", api_key: sk-upstream}
  models:
    - {name: gpt, deployments: [{provider: oa, model: gpt-4o}]}
  keys:
    - {key: sk-team, name: team, budget: {tokens: {{CAP}}, period: day}}
    - {key: sk-rpm, name: rpm-team, rpm: 4}
`

// startLLMCluster runs n aya nodes sharing one redis-server, serving the demo OpenAI provider
// and, on /c/*, a cached route to backend.
func startLLMCluster(t *testing.T, n int, budget int, backend string) []clusterNode {
	t.Helper()
	redis := startRedisServer(t)
	_, oaAddr := startProvider(t, llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: -1})
	nodes := make([]clusterNode, n)
	for i := range nodes {
		web := freePort(t)
		cfg := strings.NewReplacer("{{WEB}}", web, "{{REDIS}}", redis.addr(), "{{NODE}}", fmt.Sprintf("n%d", i+1),
			"{{LLM}}", oaAddr, "{{CAP}}", fmt.Sprint(budget), "{{BACKEND}}", backend).Replace(clusterLLMConfig)
		nodes[i] = clusterNode{proc: startAya(t, cfg), web: web}
	}
	return nodes
}

// chatCall sends one chat completion with key to node; it returns the status and the tokens
// the provider reported.
func chatCall(t *testing.T, node clusterNode, key string) (int, int) {
	t.Helper()
	req, _ := http.NewRequest("POST", "http://"+node.web+"/v1/chat/completions",
		strings.NewReader(`{"model": "gpt", "max_tokens": 10, "messages": [{"role": "user", "content": "count to three"}]}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Usage struct {
			TotalTokens int `json:"total_tokens"`
		} `json:"usage"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Usage.TotalTokens
}

// TestClusterGlobalLLMBudget: one key's token budget, calls alternating over two nodes: the
// calls stop once the budget is spent across both (not at twice it, as per-node budgets would).
// Another key's rpm holds across both too.
func TestClusterGlobalLLMBudget(t *testing.T) {
	const budget = 300
	nodes := startLLMCluster(t, 2, budget, "http://127.0.0.1:1")
	spent, ok, perNode := 0, 0, make([]int, len(nodes))
	for i := range 200 {
		n := i % len(nodes)
		status, tokens := chatCall(t, nodes[n], "sk-team")
		if status == 429 {
			break
		}
		if status != 200 {
			t.Fatalf("call %d on node %d: status %d", i, n+1, status)
		}
		spent += tokens
		ok++
		perNode[n] += tokens
	}
	// Once spent, every node refuses.
	for i, n := range nodes {
		if status, _ := chatCall(t, n, "sk-team"); status != 429 {
			t.Fatalf("node %d answered %d after the budget was spent; want 429", i+1, status)
		}
	}
	t.Logf("budget %d tokens: %d calls over 2 nodes spent %d tokens (per node %v)", budget, ok, spent, perNode)
	if spent > budget || spent < budget/2 {
		t.Fatalf("the key spent %d tokens of a %d budget across 2 nodes: the budget is not global", spent, budget)
	}
	// Each node's admin API shows the spend of both.
	for i, n := range nodes {
		status, body := syncAdmin(t, "GET", "http://"+n.Admin+"/llm/keys", "")
		var got struct {
			Keys []struct {
				Name   string
				Budget struct {
					UsedTokens int    `json:"used_tokens"`
					Scope      string `json:"scope"`
				}
			}
		}
		if err := json.Unmarshal([]byte(body), &got); status != 200 || err != nil {
			t.Fatalf("node %d GET /llm/keys: %d %s %v", i+1, status, body, err)
		}
		for _, k := range got.Keys {
			if k.Name == "team" && (k.Budget.UsedTokens != spent || k.Budget.Scope != "cluster") {
				t.Fatalf("node %d shows team's budget used %d (%s), want %d (cluster)", i+1, k.Budget.UsedTokens, k.Budget.Scope, spent)
			}
		}
	}

	// rpm: 4 across both nodes. Calls start early in a minute, so one minute counts them all.
	if s := time.Now().Second(); s > 50 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}
	admitted := 0
	for i := range 10 {
		if status, _ := chatCall(t, nodes[i%2], "sk-rpm"); status == 200 {
			admitted++
		} else if status != 429 {
			t.Fatalf("rpm call %d: status %d", i, status)
		}
	}
	t.Logf("rpm 4: %d of 10 calls over 2 nodes admitted", admitted)
	if admitted != 4 {
		t.Fatalf("%d calls admitted over 2 nodes with rpm 4: the limit is not global", admitted)
	}
	if errs := metric(t, nodes[0].Admin, "aya_cluster_budget_errors_total"); errs != 0 {
		t.Fatalf("aya_cluster_budget_errors_total = %v with Redis up", errs)
	}
}

// syncAdmin sends an admin request and returns the status and body.
func syncAdmin(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// within polls cond every 5 ms for up to d and returns how long it took to hold.
func within(t *testing.T, what string, d time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

// TestClusterAdminChangesPropagate: admin changes made on node A apply on node B within a
// second: an LLM key created on A works on B (and a revoked one stops), a target added on A is
// listed on B (and a removed one is not), a drain on A drains B's target, a consumer added on A is on B (and a deleted one is
// not), and a cache purge on A empties B's cache.
func TestClusterAdminChangesPropagate(t *testing.T) {
	var origin atomic.Int64
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin.Add(1)
		w.Header().Set("Cache-Control", "max-age=60")
		fmt.Fprint(w, "hello")
	}))
	defer backend.Close()
	nodes := startLLMCluster(t, 2, 100000, backend.URL)
	a, b := "http://"+nodes[0].Admin, "http://"+nodes[1].Admin

	// An LLM key created on A.
	status, body := syncAdmin(t, "POST", a+"/llm/keys", `{"name": "team-b"}`)
	if status != 201 {
		t.Fatalf("create key on A: %d %s", status, body)
	}
	var created struct{ Key string }
	json.Unmarshal([]byte(body), &created)
	took := within(t, "the key created on A works on B", time.Second, func() bool {
		s, _ := chatCall(t, nodes[1], created.Key)
		return s == 200
	})
	t.Logf("LLM key created on A: usable on B after %v", took)
	if status, body := syncAdmin(t, "DELETE", a+"/llm/keys/team-b", ""); status != 200 {
		t.Fatalf("revoke on A: %d %s", status, body)
	}
	took = within(t, "the key revoked on A is refused on B", time.Second, func() bool {
		s, _ := chatCall(t, nodes[1], created.Key)
		return s == 401
	})
	t.Logf("LLM key revoked on A: refused on B after %v", took)

	// A target added on A.
	if status, body := syncAdmin(t, "POST", a+"/upstreams/app/targets", `{"url": "http://127.0.0.1:9", "weight": 2}`); status != 200 {
		t.Fatalf("add target on A: %d %s", status, body)
	}
	took = within(t, "the target added on A is listed on B", time.Second, func() bool {
		_, body := syncAdmin(t, "GET", b+"/upstreams", "")
		return strings.Contains(body, "http://127.0.0.1:9")
	})
	t.Logf("target added on A: listed on B after %v", took)
	if status, body := syncAdmin(t, "DELETE", a+"/upstreams/app/targets?target=http://127.0.0.1:9", ""); status != 200 {
		t.Fatalf("remove target on A: %d %s", status, body)
	}
	within(t, "the target removed on A is gone on B", time.Second, func() bool {
		_, body := syncAdmin(t, "GET", b+"/upstreams", "")
		return !strings.Contains(body, "http://127.0.0.1:9")
	})

	// The config's target drained on A.
	if status, body := syncAdmin(t, "POST", a+"/upstreams/app/drain?target="+backend.URL, ""); status != 200 {
		t.Fatalf("drain on A: %d %s", status, body)
	}
	took = within(t, "the target drained on A is draining on B", time.Second, func() bool {
		_, body := syncAdmin(t, "GET", b+"/upstreams", "")
		return strings.Contains(body, `"draining": true`)
	})
	t.Logf("target drained on A: draining on B after %v", took)
	if status, body := syncAdmin(t, "POST", a+"/upstreams/app/undrain?target="+backend.URL, ""); status != 200 {
		t.Fatalf("undrain on A: %d %s", status, body)
	}
	within(t, "the target undrained on A is active on B", time.Second, func() bool {
		_, body := syncAdmin(t, "GET", b+"/upstreams", "")
		return !strings.Contains(body, `"draining": true`)
	})

	// A consumer added on A, then deleted.
	if status, body := syncAdmin(t, "POST", a+"/consumers", `{"name": "alice", "api_keys": ["alice-key-123456"]}`); status != 201 {
		t.Fatalf("add consumer on A: %d %s", status, body)
	}
	took = within(t, "the consumer added on A is on B", time.Second, func() bool {
		s, _ := syncAdmin(t, "GET", b+"/consumers/alice", "")
		return s == 200
	})
	t.Logf("consumer added on A: on B after %v", took)
	if status, body := syncAdmin(t, "DELETE", a+"/consumers/alice", ""); status != 200 {
		t.Fatalf("delete consumer on A: %d %s", status, body)
	}
	within(t, "the consumer deleted on A is gone on B", time.Second, func() bool {
		s, _ := syncAdmin(t, "GET", b+"/consumers/alice", "")
		return s == 404
	})

	// A purge on A empties B's cache.
	get := func(n clusterNode) string {
		resp, err := http.Get("http://" + n.web + "/c/page")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Cache")
	}
	get(nodes[1])
	if x := get(nodes[1]); x != "HIT" {
		t.Fatalf("B's second GET: X-Cache %q, want HIT", x)
	}
	if status, body := syncAdmin(t, "POST", a+"/cache/purge", `{"prefix": "/c/"}`); status != 200 {
		t.Fatalf("purge on A: %d %s", status, body)
	}
	took = within(t, "a purge on A empties B's cache", time.Second, func() bool { return get(nodes[1]) != "HIT" })
	t.Logf("purge on A: B's cache purged after %v", took)
}
