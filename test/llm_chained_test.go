package test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	llmdemo "aya/internal/demo/llm"
)

// TestLLMChainedUsage: an aya behind an aya, in front of a local OpenAI provider. Every call —
// plain, streamed with and without include_usage, retried at the inner aya after a provider
// 500, and through the outer aya's Anthropic API — is billed by both gateways exactly as the
// provider reported it: the same prompt and completion tokens, to the token.
func TestLLMChainedUsage(t *testing.T) {
	prov, provAddr := startProvider(t, llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: -1})
	innerWeb := freePort(t)
	inner := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
llm:
  cooldown: 1s
  providers:
    - {name: oa1, type: openai, base_url: "http://%s/v1", api_key: sk-upstream}
    - {name: oa2, type: openai, base_url: "http://%s/v1", api_key: sk-upstream}
  models:
    - name: gpt
      deployments: [{provider: oa1, model: gpt-4o}, {provider: oa2, model: gpt-4o}]
  keys:
    - {key: sk-inner, name: outer-gw}
`, innerWeb, provAddr, provAddr))
	outerWeb := freePort(t)
	outer := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
llm:
  providers:
    - {name: inner, type: openai, base_url: "http://%s/v1", api_key: sk-inner}
  models:
    - {name: gpt, deployments: [{provider: inner, model: gpt}]}
  keys:
    - {key: sk-client, name: app}
`, outerWeb, innerWeb))

	// What the provider itself reports for the call (its generation is seeded by the request).
	direct := openai.NewClient(option.WithBaseURL("http://"+provAddr+"/v1/"), option.WithAPIKey("sk-upstream"), option.WithMaxRetries(0))
	want, err := direct.Chat.Completions.New(ctxTimeout(t, 10*time.Second), oaParams("gpt-4o"))
	if err != nil {
		t.Fatal(err)
	}
	in, out := want.Usage.PromptTokens, want.Usage.CompletionTokens
	if in == 0 || out == 0 {
		t.Fatalf("provider usage %+v", want.Usage)
	}

	oc := openai.NewClient(option.WithBaseURL("http://"+outerWeb+"/v1/"), option.WithAPIKey("sk-client"), option.WithMaxRetries(0))
	ac := (&llmGateway{base: "http://" + outerWeb}).anthropic()
	check := func(what string, gotIn, gotOut int64) {
		t.Helper()
		if gotIn != in || gotOut != out {
			t.Errorf("%s: the client saw %d+%d tokens, the provider reported %d+%d", what, gotIn, gotOut, in, out)
		}
	}
	calls := 0

	c, err := oc.Chat.Completions.New(ctxTimeout(t, 10*time.Second), oaParams("gpt"))
	if err != nil {
		t.Fatal(err)
	}
	check("chat", c.Usage.PromptTokens, c.Usage.CompletionTokens)
	calls++

	for _, usage := range []bool{true, false} {
		p := oaParams("gpt")
		if usage {
			p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		}
		s := oc.Chat.Completions.NewStreaming(ctxTimeout(t, 10*time.Second), p)
		var acc openai.ChatCompletionAccumulator
		for s.Next() {
			acc.AddChunk(s.Current())
		}
		if err := s.Err(); err != nil {
			t.Fatalf("stream (include_usage %v): %v", usage, err)
		}
		if usage {
			check("stream with include_usage", acc.Usage.PromptTokens, acc.Usage.CompletionTokens)
		} else if acc.Usage.PromptTokens != 0 {
			t.Errorf("stream without include_usage: the client got usage %+v it did not ask for", acc.Usage)
		}
		calls++
	}

	// The provider fails the inner aya's first try; its second deployment answers. Only the
	// answered try is billed.
	prov.InjectStatus(500, 1)
	c, err = oc.Chat.Completions.New(ctxTimeout(t, 10*time.Second), oaParams("gpt"))
	if err != nil {
		t.Fatalf("retried at the inner aya: %v", err)
	}
	check("chat retried at the inner aya", c.Usage.PromptTokens, c.Usage.CompletionTokens)
	calls++
	if resp, err := http.Get("http://" + inner.Admin + "/llm/calls?limit=1"); err != nil {
		t.Fatal(err)
	} else {
		var log struct {
			Calls []struct {
				Failed int `json:"failed_attempts"`
			}
		}
		err := json.NewDecoder(resp.Body).Decode(&log)
		resp.Body.Close()
		if err != nil || len(log.Calls) != 1 || log.Calls[0].Failed != 1 {
			t.Fatalf("the inner aya's last call: %+v %v, want one failed attempt before the answer", log, err)
		}
	}

	// Anthropic ingress at the outer aya, translated to OpenAI for the inner one.
	m, err := ac.Messages.New(ctxTimeout(t, 10*time.Second), anParams("gpt"))
	if err != nil {
		t.Fatal(err)
	}
	check("messages", m.Usage.InputTokens, m.Usage.OutputTokens)
	calls++
	as := ac.Messages.NewStreaming(ctxTimeout(t, 10*time.Second), anParams("gpt"))
	msg := anthropic.Message{}
	for as.Next() {
		if err := msg.Accumulate(as.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := as.Err(); err != nil {
		t.Fatal(err)
	}
	check("messages stream", msg.Usage.InputTokens, msg.Usage.OutputTokens)
	calls++

	// Both gateways billed every call exactly what the provider reported.
	for _, gw := range []struct{ name, admin, key string }{{"inner", inner.Admin, "outer-gw"}, {"outer", outer.Admin, "app"}} {
		k := llmKeyUsage(t, gw.admin, gw.key)
		if k.Requests != int64(calls) || k.InputTokens != int64(calls)*in || k.OutputTokens != int64(calls)*out {
			t.Errorf("%s aya billed key %s %d calls, %d+%d tokens; the provider reported %d calls, %d+%d",
				gw.name, gw.key, k.Requests, k.InputTokens, k.OutputTokens, calls, int64(calls)*in, int64(calls)*out)
		}
	}
}

type llmKeyTotals struct {
	Name         string
	Requests     int64 `json:"requests"`
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

// llmKeyUsage reads a key's totals from GET /llm/keys.
func llmKeyUsage(t *testing.T, admin, name string) llmKeyTotals {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/llm/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct{ Keys []llmKeyTotals }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	for _, k := range got.Keys {
		if k.Name == name {
			return k
		}
	}
	t.Fatalf("GET /llm/keys on %s has no key %s", admin, name)
	return llmKeyTotals{}
}
