package test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	llmdemo "aya/internal/demo/llm"
)

const clusterLLMConfig = `
listeners: [{name: web, address: "{{WEB}}"}]
admin: {address: "{{ADMIN}}"}
access_log: {enabled: false}
cluster: {redis: "redis://{{REDIS}}", node: {{NODE}}}
llm:
  providers:
    - {name: oa, type: openai, base_url: "http://{{LLM}}/v1", api_key: sk-upstream}
  models:
    - {name: gpt, deployments: [{provider: oa, model: gpt-4o}]}
  keys:
    - {key: sk-team, name: team, budget: {tokens: {{CAP}}, period: day}}
`

// startLLMCluster runs n aya nodes sharing one redis-server, serving the demo OpenAI provider.
func startLLMCluster(t *testing.T, n int, budget int) []clusterNode {
	t.Helper()
	redis := startRedisServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	_, oaAddr, err := llmdemo.Start(ctx, "127.0.0.1:0", llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: -1})
	if err != nil {
		t.Fatal(err)
	}
	nodes := make([]clusterNode, n)
	for i := range nodes {
		web := freePort(t)
		cfg := strings.NewReplacer("{{WEB}}", web, "{{REDIS}}", redis.addr(), "{{NODE}}", fmt.Sprintf("n%d", i+1),
			"{{LLM}}", oaAddr.String(), "{{CAP}}", fmt.Sprint(budget)).Replace(clusterLLMConfig)
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
func TestClusterGlobalLLMBudget(t *testing.T) {
	const budget = 300
	nodes := startLLMCluster(t, 2, budget)
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
	if errs := metric(t, nodes[0].Admin, "aya_cluster_budget_errors_total"); errs != 0 {
		t.Fatalf("aya_cluster_budget_errors_total = %v with Redis up", errs)
	}
}
