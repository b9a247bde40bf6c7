package test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	llmdemo "aya/internal/demo/llm"
)

const llmAdminConfig = `
listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
llm:
  providers:
    - {name: oa, type: openai, base_url: "http://%s/v1", api_key: sk-upstream}
  models:
    - {name: gpt, aliases: [smart], deployments: [{provider: oa, model: gpt-4o, cost: {input: 2, output: 10}}]}
  keys:
    - {key: sk-config, name: ops%s}
`

// TestLLMAdminKeysCallLogAndMetrics: a key created through the admin API works at once with the
// official SDK, its budget holds across a config reload (the spend is not forgotten), every
// call lands in the call log with the provider's usage, the aya_llm_* metrics count the same
// tokens, and a revoked key is refused.
func TestLLMAdminKeysCallLogAndMetrics(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, oaAddr := startProvider(t, llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: -1})
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(llmAdminConfig, web, oaAddr, ""))
	admin := "http://" + p.Admin

	// Create a key with a token budget.
	resp, err := http.Post(admin+"/llm/keys", "application/json",
		strings.NewReader(`{"name": "team-a", "models": ["smart"], "budget": {"tokens": 120, "period": "day"}}`))
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Name, Key string }
	if err := jsonDecode(resp, &created); err != nil || resp.StatusCode != 201 || !strings.HasPrefix(created.Key, "sk-aya-") {
		t.Fatalf("create key: %d %+v %v", resp.StatusCode, created, err)
	}
	if resp, _ := http.Post(admin+"/llm/keys", "application/json", strings.NewReader(`{"name": "team-a"}`)); resp == nil || resp.StatusCode != 409 {
		t.Fatalf("a second key with the same name was not refused with 409")
	}
	if resp, _ := http.Post(admin+"/llm/keys", "application/json", strings.NewReader(`{"name": "x", "models": ["nope"]}`)); resp == nil || resp.StatusCode != 400 {
		t.Fatalf("a key for an unknown model was not refused with 400")
	}

	client := openai.NewClient(option.WithBaseURL("http://"+web+"/v1/"), option.WithAPIKey(created.Key), option.WithMaxRetries(0))
	chat := func() (*openai.ChatCompletion, error) {
		c, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		return client.Chat.Completions.New(c, openai.ChatCompletionNewParams{
			Model:     "gpt",
			Messages:  []openai.ChatCompletionMessageParamUnion{openai.UserMessage("count to three")},
			MaxTokens: openai.Int(10),
		})
	}
	first, err := chat()
	if err != nil {
		t.Fatalf("a call with the new key failed: %v", err)
	}
	spent := first.Usage.TotalTokens

	// A reload (the config changes) must keep the key and what it spent.
	p.rewrite(fmt.Sprintf(llmAdminConfig, web, oaAddr, ", rpm: 1000"))
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st struct {
			Reloads int `json:"reloads"`
		}
		r, err := http.Get(admin + "/config/status")
		if err == nil && jsonDecode(r, &st) == nil && st.Reloads >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the config change was not reloaded")
		}
		time.Sleep(50 * time.Millisecond)
	}
	calls := 1
	for {
		c, err := chat()
		if err != nil {
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Code != "insufficient_quota" {
				t.Fatalf("call %d: want the budget's 429 insufficient_quota, got %v", calls+1, err)
			}
			break
		}
		calls++
		spent += c.Usage.TotalTokens
		if calls > 20 {
			t.Fatal("the budget never stopped the key: the reload forgot what it spent")
		}
	}
	if spent > 120 {
		t.Fatalf("the key spent %d tokens of a 120 budget", spent)
	}

	// The keys list shows usage, not secrets.
	r, err := http.Get(admin + "/llm/keys")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if bytes.Contains(raw, []byte(created.Key)) || bytes.Contains(raw, []byte("sk-config")) {
		t.Fatalf("GET /llm/keys shows a secret: %s", raw)
	}
	var keys struct {
		Keys []struct {
			Name, Origin string
			Requests     int64
			InputTokens  int64 `json:"input_tokens"`
			OutputTokens int64 `json:"output_tokens"`
			Budget       struct {
				UsedTokens int64 `json:"used_tokens"`
			}
		}
	}
	json.Unmarshal(raw, &keys)
	if len(keys.Keys) != 2 || keys.Keys[1].Name != "team-a" || keys.Keys[1].Origin != "admin" || keys.Keys[0].Origin != "config" {
		t.Fatalf("keys: %s", raw)
	}
	if k := keys.Keys[1]; k.Requests != int64(calls) || k.InputTokens+k.OutputTokens != spent || k.Budget.UsedTokens != spent {
		t.Fatalf("team-a shows %d requests, %d+%d tokens (budget %d), want %d requests and %d tokens", k.Requests, k.InputTokens, k.OutputTokens, k.Budget.UsedTokens, calls, spent)
	}

	// The call log has every call, the refused one included, with the provider's usage.
	var log struct {
		Calls []struct {
			Key, Model, Provider, Deployment string
			Status                           int
			InputTokens                      int64   `json:"input_tokens"`
			OutputTokens                     int64   `json:"output_tokens"`
			CostUSD                          float64 `json:"cost_usd"`
		}
	}
	r, err = http.Get(admin + "/llm/calls?key=team-a&limit=100")
	if err != nil || jsonDecode(r, &log) != nil {
		t.Fatalf("call log: %v", err)
	}
	if len(log.Calls) != calls+1 || log.Calls[0].Status != 429 {
		t.Fatalf("call log holds %d calls (newest %+v), want %d with the refused one first", len(log.Calls), log.Calls[0], calls+1)
	}
	var logged int64
	for _, c := range log.Calls[1:] {
		if c.Status != 200 || c.Provider != "oa" || c.Deployment != "gpt-4o" || c.CostUSD <= 0 {
			t.Fatalf("logged call: %+v", c)
		}
		logged += c.InputTokens + c.OutputTokens
	}
	if logged != spent {
		t.Fatalf("call log counts %d tokens, the provider reported %d", logged, spent)
	}
	if r, _ := http.Get(admin + "/llm/calls?since=yesterday"); r == nil || r.StatusCode != 400 {
		t.Fatal("a bad since= was not refused with 400")
	}

	// Metrics count the same tokens.
	r, err = http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(r.Body)
	r.Body.Close()
	var sum float64
	for _, line := range strings.Split(string(metrics), "\n") {
		if strings.HasPrefix(line, "aya_llm_tokens_total{") && strings.Contains(line, `key="team-a"`) {
			var v float64
			fmt.Sscanf(line[strings.LastIndexByte(line, ' ')+1:], "%g", &v)
			sum += v
		}
	}
	if int64(sum) != spent || !strings.Contains(string(metrics), "aya_llm_request_duration_seconds_bucket") ||
		!strings.Contains(string(metrics), `aya_llm_requests_total{model="gpt",provider="oa",status="200"}`) {
		t.Fatalf("aya_llm_tokens_total for team-a = %v, want %d; metrics:\n%s", sum, spent, grepLines(string(metrics), "aya_llm_"))
	}

	// Revoking the key refuses it at once; a config key cannot be revoked here.
	req, _ := http.NewRequest("DELETE", admin+"/llm/keys/team-a", nil)
	if r, err := http.DefaultClient.Do(req); err != nil || r.StatusCode != 200 {
		t.Fatalf("revoke: %v %v", r, err)
	}
	if _, err := chat(); err == nil {
		t.Fatal("a revoked key still works")
	} else if apiErr := (*openai.Error)(nil); !errors.As(err, &apiErr) || apiErr.StatusCode != 401 {
		t.Fatalf("revoked key: want 401, got %v", err)
	}
	req, _ = http.NewRequest("DELETE", admin+"/llm/keys/ops", nil)
	if r, _ := http.DefaultClient.Do(req); r == nil || r.StatusCode != 409 {
		t.Fatal("revoking a config key was not refused with 409")
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestLLMKeysAndSpendSurviveRestart: with data_dir, an admin-created key and what it spent are
// still there after aya restarts.
func TestLLMKeysAndSpendSurviveRestart(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, oaAddr := startProvider(t, llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: -1})
	web := freePort(t)
	data := t.TempDir()
	cfg := fmt.Sprintf(llmAdminConfig, web, oaAddr, "") + "data_dir: " + data + "\n"
	p := startAya(t, cfg)
	resp, err := http.Post("http://"+p.Admin+"/llm/keys", "application/json", strings.NewReader(`{"name": "team-b", "budget": {"usd": 5}}`))
	if err != nil {
		t.Fatal(err)
	}
	var created struct{ Key string }
	if err := jsonDecode(resp, &created); err != nil || created.Key == "" {
		t.Fatalf("create: %v", err)
	}
	client := openai.NewClient(option.WithBaseURL("http://"+web+"/v1/"), option.WithAPIKey(created.Key), option.WithMaxRetries(0))
	c, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "gpt", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}, MaxTokens: openai.Int(5),
	})
	if err != nil {
		t.Fatal(err)
	}
	if code := p.stop(10 * time.Second); code != 0 {
		t.Fatalf("aya exited %d on SIGTERM", code)
	}

	p2 := startAya(t, cfg)
	if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model: "gpt", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}, MaxTokens: openai.Int(5),
	}); err != nil {
		t.Fatalf("the admin-created key did not survive the restart: %v", err)
	}
	r, err := http.Get("http://" + p2.Admin + "/llm/keys")
	if err != nil {
		t.Fatal(err)
	}
	var keys struct {
		Keys []struct {
			Name     string
			Requests int64
			Budget   struct {
				UsedUSD float64 `json:"used_usd"`
			}
		}
	}
	if err := jsonDecode(r, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys.Keys {
		if k.Name == "team-b" {
			if k.Requests != 2 || k.Budget.UsedUSD <= 0 {
				t.Fatalf("after the restart team-b shows %d requests and $%v spent, want 2 requests (first call: %d tokens)", k.Requests, k.Budget.UsedUSD, c.Usage.TotalTokens)
			}
			return
		}
	}
	t.Fatalf("team-b is not listed after the restart: %+v", keys)
}
