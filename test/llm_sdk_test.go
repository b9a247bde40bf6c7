package test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	anthropic "github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	llmdemo "aya/internal/demo/llm"
)

// llmGateway runs aya in front of a local OpenAI and a local Anthropic provider, pacing tokens
// tokensPerSecond apart. Models: "gpt" (OpenAI), "claude" (Anthropic), and "resilient", whose
// deployments are Anthropic then OpenAI (lowest_cost) with "gpt" as fallback; "gemini" on a
// local Gemini provider and "embed" for embeddings.
type llmGateway struct {
	base   string // http://host:port
	oa, an *llmdemo.Server
}

func startLLMGateway(t *testing.T, tokensPerSecond float64) *llmGateway {
	t.Helper()
	oa, oaAddr := startProvider(t, llmdemo.OpenAI, llmdemo.Options{TokensPerSecond: tokensPerSecond})
	an, anAddr := startProvider(t, llmdemo.Anthropic, llmdemo.Options{TokensPerSecond: tokensPerSecond})
	_, geAddr := startProvider(t, llmdemo.Gemini, llmdemo.Options{TokensPerSecond: tokensPerSecond})
	web := freePort(t)
	startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
llm:
  cooldown: 1s
  providers:
    - {name: oa, type: openai, base_url: "http://%s/v1", api_key: sk-upstream}
    - {name: an, type: anthropic, base_url: "http://%s", api_key: sk-ant-upstream}
    - {name: ge, type: gemini, base_url: "http://%s", api_key: g-upstream}
  models:
    - {name: gpt, deployments: [{provider: oa, model: gpt-4o}]}
    - {name: gemini, deployments: [{provider: ge, model: gemini-2.5-flash}]}
    - {name: embed, deployments: [{provider: oa, model: text-embedding-3-small}]}
    - {name: claude, deployments: [{provider: an, model: claude-sonnet-4-5}]}
    - name: resilient
      strategy: lowest_cost
      fallbacks: [gpt]
      deployments:
        - {provider: an, model: claude-sonnet-4-5, cost: {input: 1, output: 1}}
        - {provider: oa, model: gpt-4o-mini, cost: {input: 2, output: 2}}
  keys:
    - {key: sk-client, name: tests}
`, web, oaAddr, anAddr, geAddr))
	return &llmGateway{base: "http://" + web, oa: oa, an: an}
}

func (g *llmGateway) openai() *openai.Client {
	c := openai.NewClient(option.WithBaseURL(g.base+"/v1/"), option.WithAPIKey("sk-client"), option.WithMaxRetries(0))
	return &c
}

func (g *llmGateway) anthropic() *anthropic.Client {
	c := anthropic.NewClient(aoption.WithBaseURL(g.base+"/"), aoption.WithAPIKey("sk-client"), aoption.WithMaxRetries(0))
	return &c
}

func oaParams(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model: model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are terse."),
			openai.UserMessage("Say hello to the gateway."),
		},
		MaxTokens: openai.Int(16),
	}
}

func anParams(model string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: 16,
		System:    []anthropic.TextBlockParam{{Text: "You are terse."}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello to the gateway."))},
	}
}

// TestLLMSDKChat: both SDKs, each against both providers (so half the calls are translated).
func TestLLMSDKChat(t *testing.T) {
	g := startLLMGateway(t, -1)
	for _, model := range []string{"gpt", "claude", "gemini"} {
		c, err := g.openai().Chat.Completions.New(ctxTimeout(t, 10*time.Second), oaParams(model))
		if err != nil {
			t.Fatalf("openai SDK → %s: %v", model, err)
		}
		if c.Choices[0].Message.Content == "" || c.Choices[0].FinishReason == "" || c.Usage.PromptTokens == 0 || c.Usage.CompletionTokens == 0 {
			t.Fatalf("openai SDK → %s: %+v", model, c)
		}
		m, err := g.anthropic().Messages.New(ctxTimeout(t, 10*time.Second), anParams(model))
		if err != nil {
			t.Fatalf("anthropic SDK → %s: %v", model, err)
		}
		if len(m.Content) == 0 || m.Content[0].Text == "" || m.StopReason == "" || m.Usage.InputTokens == 0 || m.Usage.OutputTokens == 0 {
			t.Fatalf("anthropic SDK → %s: %+v", model, m)
		}
	}
}

// TestLLMSDKStream: streams arrive piece by piece (tokens are paced 20 ms apart, so a buffered
// stream would arrive all at once), usage is reported, and the texts add up.
func TestLLMSDKStream(t *testing.T) {
	g := startLLMGateway(t, 50)
	for _, model := range []string{"gpt", "claude", "gemini"} {
		p := oaParams(model)
		p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
		s := g.openai().Chat.Completions.NewStreaming(ctxTimeout(t, 10*time.Second), p)
		var acc openai.ChatCompletionAccumulator
		var arrivals []time.Time
		for s.Next() {
			ch := s.Current()
			acc.AddChunk(ch)
			if len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
				arrivals = append(arrivals, time.Now())
			}
		}
		if err := s.Err(); err != nil {
			t.Fatalf("openai SDK stream → %s: %v", model, err)
		}
		if acc.Choices[0].Message.Content == "" || acc.Usage.CompletionTokens == 0 {
			t.Fatalf("openai SDK stream → %s: %+v", model, acc.ChatCompletion)
		}
		checkIncremental(t, "openai SDK → "+model, arrivals)

		as := g.anthropic().Messages.NewStreaming(ctxTimeout(t, 10*time.Second), anParams(model))
		msg := anthropic.Message{}
		arrivals = arrivals[:0]
		for as.Next() {
			ev := as.Current()
			if err := msg.Accumulate(ev); err != nil {
				t.Fatal(err)
			}
			if d, ok := ev.AsAny().(anthropic.ContentBlockDeltaEvent); ok && d.Delta.Text != "" {
				arrivals = append(arrivals, time.Now())
			}
		}
		if err := as.Err(); err != nil {
			t.Fatalf("anthropic SDK stream → %s: %v", model, err)
		}
		if len(msg.Content) == 0 || msg.Content[0].Text == "" || msg.Usage.InputTokens == 0 || msg.Usage.OutputTokens == 0 || msg.StopReason == "" {
			t.Fatalf("anthropic SDK stream → %s: %+v", model, msg)
		}
		checkIncremental(t, "anthropic SDK → "+model, arrivals)
	}
}

func checkIncremental(t *testing.T, what string, arrivals []time.Time) {
	t.Helper()
	if len(arrivals) < 4 {
		t.Fatalf("%s: %d text pieces, want several", what, len(arrivals))
	}
	if spread := arrivals[len(arrivals)-1].Sub(arrivals[0]); spread < 40*time.Millisecond {
		t.Fatalf("%s: %d pieces arrived within %v: the stream was buffered", what, len(arrivals), spread)
	}
}

// TestLLMSDKFallback: the preferred deployment answers 529 (Anthropic overloaded), the next 500;
// the fallback model answers, and the client sees no error — streamed or not.
func TestLLMSDKFallback(t *testing.T) {
	g := startLLMGateway(t, -1)
	for i := range 2 {
		g.an.InjectStatus(529, 1)
		g.oa.InjectStatus(500, 1)
		if i == 0 {
			if _, err := g.openai().Chat.Completions.New(ctxTimeout(t, 10*time.Second), oaParams("resilient")); err != nil {
				t.Fatalf("openai SDK: %v", err)
			}
		} else {
			s := g.anthropic().Messages.NewStreaming(ctxTimeout(t, 10*time.Second), anParams("resilient"))
			for s.Next() {
			}
			if err := s.Err(); err != nil {
				t.Fatalf("anthropic SDK stream: %v", err)
			}
		}
		time.Sleep(1100 * time.Millisecond) // let the cooldown pass
	}
}

// TestLLMSDKErrors: errors come back in each SDK's own error type with the right status.
func TestLLMSDKErrors(t *testing.T) {
	g := startLLMGateway(t, -1)
	_, err := g.openai().Chat.Completions.New(ctxTimeout(t, 10*time.Second), oaParams("no-such-model"))
	var oe *openai.Error
	if !errors.As(err, &oe) || oe.StatusCode != 404 || oe.Code != "model_not_found" {
		t.Fatalf("openai SDK, unknown model: %v", err)
	}
	_, err = g.anthropic().Messages.New(ctxTimeout(t, 10*time.Second), anParams("no-such-model"))
	var ae *anthropic.Error
	if !errors.As(err, &ae) || ae.StatusCode != 404 || !strings.Contains(ae.Error(), "not_found_error") {
		t.Fatalf("anthropic SDK, unknown model: %v", err)
	}
	bad := openai.NewClient(option.WithBaseURL(g.base+"/v1/"), option.WithAPIKey("sk-wrong"), option.WithMaxRetries(0))
	_, err = bad.Chat.Completions.New(ctxTimeout(t, 10*time.Second), oaParams("gpt"))
	if !errors.As(err, &oe) || oe.StatusCode != 401 {
		t.Fatalf("openai SDK, wrong key: %v", err)
	}
	page, err := g.openai().Models.List(ctxTimeout(t, 10*time.Second))
	if err != nil || len(page.Data) != 5 {
		t.Fatalf("models: %v %+v", err, page)
	}
}

// TestLLMSDKToolsAndEmbeddings: a forced tool call reaches the OpenAI SDK from the Anthropic
// provider and the Anthropic SDK from the OpenAI provider; embeddings keep input order.
func TestLLMSDKToolsAndEmbeddings(t *testing.T) {
	g := startLLMGateway(t, -1)
	p := oaParams("claude")
	p.Tools = []openai.ChatCompletionToolUnionParam{openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
		Name:       "get_weather",
		Parameters: openai.FunctionParameters{"type": "object", "properties": map[string]any{"city": map[string]any{"type": "string"}}, "required": []string{"city"}},
	})}
	p.ToolChoice = openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_weather"})
	c, err := g.openai().Chat.Completions.New(ctxTimeout(t, 10*time.Second), p)
	if err != nil || len(c.Choices[0].Message.ToolCalls) != 1 || c.Choices[0].Message.ToolCalls[0].Function.Name != "get_weather" {
		t.Fatalf("openai SDK → anthropic tool call: %v %+v", err, c)
	}
	ap := anParams("gpt")
	ap.Tools = []anthropic.ToolUnionParam{{OfTool: &anthropic.ToolParam{Name: "get_weather", InputSchema: anthropic.ToolInputSchemaParam{Properties: map[string]any{"city": map[string]any{"type": "string"}}}}}}
	ap.ToolChoice = anthropic.ToolChoiceParamOfTool("get_weather")
	m, err := g.anthropic().Messages.New(ctxTimeout(t, 10*time.Second), ap)
	if err != nil || m.StopReason != anthropic.StopReasonToolUse {
		t.Fatalf("anthropic SDK → openai tool call: %v %+v", err, m)
	}
	emb, err := g.openai().Embeddings.New(ctxTimeout(t, 10*time.Second), openai.EmbeddingNewParams{
		Model: "embed", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"a", "b", "c"}},
	})
	if err != nil || len(emb.Data) != 3 || emb.Data[2].Index != 2 || len(emb.Data[0].Embedding) == 0 {
		t.Fatalf("embeddings: %v %+v", err, emb)
	}
}

// startProvider runs a local LLM provider of kind on a free loopback port until the test
// ends, and returns it with its host:port.
func startProvider(t *testing.T, kind llmdemo.Kind, o llmdemo.Options) (*llmdemo.Server, string) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s, addr, err := llmdemo.Start(ctx, "127.0.0.1:0", kind, o)
	if err != nil {
		t.Fatal(err)
	}
	return s, addr.String()
}
