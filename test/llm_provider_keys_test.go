package test

import (
	"encoding/json"
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

// TestLLMProviderKeys, through the binary with openai-go: a provider with two API keys, each
// limited by the local provider to 3 requests a minute. Six calls in a row all succeed, three
// on each key. Then, on a second provider whose first key another client has nearly used up,
// a key's 429 cools only that key and the same deployment answers at once with the other; the
// admin API shows which key sits out, by label.
func TestLLMProviderKeys(t *testing.T) {
	o := llmdemo.Options{RPM: 3, LimitPerKey: true, TokensPerSecond: -1}
	spread, spreadAddr := startProvider(t, llmdemo.OpenAI, withKeys(o, "sk-spread-aaaa", "sk-spread-bbbb"))
	retry, retryAddr := startProvider(t, llmdemo.OpenAI, withKeys(o, "sk-retry-cccc", "sk-retry-dddd"))
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
llm:
  cooldown: 1s
  providers:
    - {name: spread, type: openai, base_url: "http://%s/v1", api_keys: [sk-spread-aaaa, sk-spread-bbbb]}
    - {name: retry, type: openai, base_url: "http://%s/v1", api_keys: [sk-retry-cccc, sk-retry-dddd]}
  models:
    - {name: spread, deployments: [{provider: spread, model: gpt-4o}]}
    - {name: retry, deployments: [{provider: retry, model: gpt-4o}]}
`, web, spreadAddr, retryAddr))
	c := openai.NewClient(option.WithBaseURL("http://"+web+"/v1/"), option.WithAPIKey("any"), option.WithMaxRetries(0))
	for i := range 6 {
		if _, err := c.Chat.Completions.New(ctxTimeout(t, 10*time.Second), oaParams("spread")); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if a, b := spread.Served("sk-spread-aaaa"), spread.Served("sk-spread-bbbb"); a != 3 || b != 3 {
		t.Fatalf("keys served %d and %d calls, want 3 each", a, b)
	}

	// Another client takes two of the first key's three requests.
	for range 2 {
		req, _ := http.NewRequest("POST", "http://"+retryAddr+"/v1/chat/completions", strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer sk-retry-cccc")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// aya: c (its 3rd), d, then c is limited → d again at once, d (its 3rd): all answered.
	for i := range 4 {
		if _, err := c.Chat.Completions.New(ctxTimeout(t, 10*time.Second), oaParams("retry")); err != nil {
			t.Fatalf("retry call %d: %v", i+1, err)
		}
	}
	if cc, d := retry.Served("sk-retry-cccc"), retry.Served("sk-retry-dddd"); cc != 3 || d != 3 {
		t.Fatalf("retry keys served %d and %d, want 3 each", cc, d)
	}
	var calls struct {
		Calls []struct {
			FailedAttempts int `json:"failed_attempts"`
		} `json:"calls"`
	}
	getAdminJSON(t, "http://"+p.Admin+"/llm/calls?model=retry", &calls)
	failed := 0
	for _, cl := range calls.Calls {
		failed += cl.FailedAttempts
	}
	if len(calls.Calls) != 4 || failed != 1 {
		t.Fatalf("call log: %d calls with %d failed attempts, want 4 with 1 (the limited key)", len(calls.Calls), failed)
	}
	var deps struct {
		Deployments []struct {
			Model   string `json:"model"`
			Cooling bool   `json:"cooling"`
			Keys    []struct {
				Key          string     `json:"key"`
				CoolingUntil *time.Time `json:"cooling_until"`
			} `json:"keys"`
		} `json:"deployments"`
	}
	getAdminJSON(t, "http://"+p.Admin+"/llm/deployments", &deps)
	for _, d := range deps.Deployments {
		if d.Model != "retry" {
			continue
		}
		if d.Cooling || len(d.Keys) != 2 || d.Keys[0].Key != "#1 …cccc" || d.Keys[0].CoolingUntil == nil || d.Keys[1].CoolingUntil != nil {
			t.Fatalf("deployment state: %+v", d)
		}
		// The same state on /metrics.
		resp, err := http.Get("http://" + p.Admin + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`aya_llm_provider_key_cooling{deployment="gpt-4o",key="#1 …cccc",model="retry",provider="retry"} 1`,
			`aya_llm_provider_key_cooling{deployment="gpt-4o",key="#2 …dddd",model="retry",provider="retry"} 0`,
			`aya_llm_deployment_cooling{deployment="gpt-4o",model="retry",provider="retry"} 0`,
		} {
			if !strings.Contains(string(b), want) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		return
	}
	t.Fatalf("no retry deployment in %+v", deps)
}

func withKeys(o llmdemo.Options, keys ...string) llmdemo.Options {
	o.APIKeys = keys
	return o
}

func getAdminJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d, %v", url, resp.StatusCode, err)
	}
}
