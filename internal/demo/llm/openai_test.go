package llmdemo

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
)

func openAIClient(base string, key string) openai.Client {
	return openai.NewClient(option.WithBaseURL(base+"/v1"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

func chatParams(model string) openai.ChatCompletionNewParams {
	return openai.ChatCompletionNewParams{
		Model: model,
		Messages: []openai.ChatCompletionMessageParamUnion{
			openai.SystemMessage("You are terse."),
			openai.UserMessage("Say hello to the gateway."),
		},
	}
}

var weatherTool = openai.ChatCompletionFunctionTool(openai.FunctionDefinitionParam{
	Name:        "get_weather",
	Description: openai.String("Weather in a city"),
	Parameters: openai.FunctionParameters{
		"type":       "object",
		"properties": map[string]any{"city": map[string]any{"type": "string"}, "days": map[string]any{"type": "integer"}},
		"required":   []string{"city"},
	},
})

func TestOpenAIChat(t *testing.T) {
	_, base := start(t, OpenAI, Options{APIKeys: []string{"sk-test"}, TokensPerSecond: -1})
	c := openAIClient(base, "sk-test")
	var resp *http.Response
	got, err := c.Chat.Completions.New(t.Context(), chatParams("gpt-4o"), option.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	text := got.Choices[0].Message.Content
	wantPrompt := CountTokens("You are terse.") + CountTokens("Say hello to the gateway.")
	if text == "" || got.Choices[0].FinishReason != "stop" {
		t.Fatalf("content %q finish %q", text, got.Choices[0].FinishReason)
	}
	if u := got.Usage; u.PromptTokens != int64(wantPrompt) || u.CompletionTokens != int64(CountTokens(text)) || u.TotalTokens != u.PromptTokens+u.CompletionTokens {
		t.Fatalf("usage %+v, want prompt %d completion %d", u, wantPrompt, CountTokens(text))
	}
	if resp.Header.Get("x-request-id") == "" || resp.Header.Get("x-ratelimit-remaining-requests") == "" {
		t.Fatalf("headers %v", resp.Header)
	}
	again, err := c.Chat.Completions.New(t.Context(), chatParams("gpt-4o"))
	if err != nil || again.Choices[0].Message.Content != text {
		t.Fatalf("same request gave %q, want the seeded %q (err %v)", again.Choices[0].Message.Content, text, err)
	}
}

func TestOpenAIChatOptions(t *testing.T) {
	_, base := start(t, OpenAI, Options{TokensPerSecond: -1})
	c := openAIClient(base, "any")
	full, err := c.Chat.Completions.New(t.Context(), chatParams("gpt-4o"))
	if err != nil {
		t.Fatal(err)
	}
	stopWord := strings.Fields(full.Choices[0].Message.Content)[3]

	tests := []struct {
		name   string
		modify func(*openai.ChatCompletionNewParams)
		check  func(t *testing.T, c *openai.ChatCompletion)
	}{
		{"max_tokens gives length", func(p *openai.ChatCompletionNewParams) { p.MaxTokens = openai.Int(3) },
			func(t *testing.T, c *openai.ChatCompletion) {
				if c.Choices[0].FinishReason != "length" || c.Usage.CompletionTokens != 3 || CountTokens(c.Choices[0].Message.Content) != 3 {
					t.Fatalf("finish %q usage %d content %q", c.Choices[0].FinishReason, c.Usage.CompletionTokens, c.Choices[0].Message.Content)
				}
			}},
		{"max_completion_tokens gives length", func(p *openai.ChatCompletionNewParams) { p.MaxCompletionTokens = openai.Int(2) },
			func(t *testing.T, c *openai.ChatCompletion) {
				if c.Choices[0].FinishReason != "length" || c.Usage.CompletionTokens != 2 {
					t.Fatalf("finish %q usage %d", c.Choices[0].FinishReason, c.Usage.CompletionTokens)
				}
			}},
		{"stop cuts the answer", func(p *openai.ChatCompletionNewParams) {
			p.Stop = openai.ChatCompletionNewParamsStopUnion{OfStringArray: []string{" " + stopWord}}
		}, func(t *testing.T, c *openai.ChatCompletion) {
			got := c.Choices[0].Message.Content
			if c.Choices[0].FinishReason != "stop" || strings.Contains(got, " "+stopWord) || !strings.HasPrefix(full.Choices[0].Message.Content, got) {
				t.Fatalf("content %q after stop %q", got, stopWord)
			}
		}},
		{"json mode answers JSON", func(p *openai.ChatCompletionNewParams) {
			p.ResponseFormat = openai.ChatCompletionNewParamsResponseFormatUnion{OfJSONObject: &openai.ResponseFormatJSONObjectParam{}}
		}, func(t *testing.T, c *openai.ChatCompletion) {
			if !json.Valid([]byte(c.Choices[0].Message.Content)) {
				t.Fatalf("content %q is not JSON", c.Choices[0].Message.Content)
			}
		}},
		{"forced tool", func(p *openai.ChatCompletionNewParams) {
			p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool}
			p.ToolChoice = openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_weather"})
		}, func(t *testing.T, c *openai.ChatCompletion) {
			ch := c.Choices[0]
			if ch.FinishReason != "tool_calls" || len(ch.Message.ToolCalls) != 1 || ch.Message.ToolCalls[0].Function.Name != "get_weather" {
				t.Fatalf("choice %+v", ch)
			}
			var args struct {
				City string `json:"city"`
				Days *int   `json:"days"`
			}
			if err := json.Unmarshal([]byte(ch.Message.ToolCalls[0].Function.Arguments), &args); err != nil || args.City == "" || args.Days == nil {
				t.Fatalf("arguments %q: %v", ch.Message.ToolCalls[0].Function.Arguments, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := chatParams("gpt-4o")
			tt.modify(&p)
			got, err := c.Chat.Completions.New(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

func TestOpenAIStream(t *testing.T) {
	gap := 10 * time.Millisecond
	_, base := start(t, OpenAI, Options{TokensPerSecond: float64(time.Second / gap)})
	c := openAIClient(base, "k")
	p := chatParams("gpt-4o")
	p.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := c.Chat.Completions.NewStreaming(t.Context(), p)
	var acc openai.ChatCompletionAccumulator
	var arrivals []sseLine
	for stream.Next() {
		ch := stream.Current()
		acc.AddChunk(ch)
		if len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
			arrivals = append(arrivals, sseLine{ch.Choices[0].Delta.Content, time.Now()})
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	text := acc.Choices[0].Message.Content
	if acc.Usage.CompletionTokens != int64(CountTokens(text)) || acc.Usage.CompletionTokens != int64(len(arrivals)) || acc.Choices[0].FinishReason != "stop" {
		t.Fatalf("text %q usage %+v deltas %d finish %q", text, acc.Usage, len(arrivals), acc.Choices[0].FinishReason)
	}
	assertPaced(t, arrivals, gap)
}

// TestOpenAIStreamFraming reads the raw stream: data-only lines, usage null before the usage
// chunk, one finish_reason, a final choices-less usage chunk, then [DONE].
func TestOpenAIStreamFraming(t *testing.T) {
	_, base := start(t, OpenAI, Options{TokensPerSecond: -1})
	for _, includeUsage := range []bool{true, false} {
		body := `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`
		if includeUsage {
			body = `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}]}`
		}
		resp, lines := post(t, base+"/v1/chat/completions", map[string]string{"Authorization": "Bearer k"}, body)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
			t.Fatalf("status %d type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		for _, l := range lines {
			if l.text != "" && !strings.HasPrefix(l.text, "data: ") {
				t.Fatalf("non-data line %q", l.text)
			}
		}
		data := dataLines(lines)
		if data[len(data)-1].text != "[DONE]" {
			t.Fatalf("last data %q", data[len(data)-1].text)
		}
		finishes := 0
		for i, d := range data[:len(data)-1] {
			var ch map[string]json.RawMessage
			if err := json.Unmarshal([]byte(d.text), &ch); err != nil {
				t.Fatal(err)
			}
			usage, hasUsage := ch["usage"]
			last := i == len(data)-2
			switch {
			case !includeUsage && hasUsage:
				t.Fatalf("usage key without include_usage: %s", d.text)
			case includeUsage && last && (string(ch["choices"]) != "[]" || string(usage) == "null"):
				t.Fatalf("usage chunk %s", d.text)
			case includeUsage && !last && string(usage) != "null":
				t.Fatalf("chunk %d usage %s, want null", i, usage)
			}
			if strings.Contains(string(ch["choices"]), `"finish_reason":"`) {
				finishes++
			}
		}
		if finishes != 1 {
			t.Fatalf("%d chunks with a finish_reason, want 1", finishes)
		}
	}
}

func TestOpenAIStreamToolCall(t *testing.T) {
	_, base := start(t, OpenAI, Options{TokensPerSecond: -1})
	body := `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"weather?"}],
	 "tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}}}],
	 "tool_choice":{"type":"function","function":{"name":"get_weather"}}}`
	_, lines := post(t, base+"/v1/chat/completions", nil, body)
	data := dataLines(lines)
	var first struct {
		Choices []struct {
			Delta struct {
				ToolCalls []map[string]any `json:"tool_calls"`
			} `json:"delta"`
		} `json:"choices"`
	}
	if err := json.Unmarshal([]byte(data[0].text), &first); err != nil {
		t.Fatal(err)
	}
	tc := first.Choices[0].Delta.ToolCalls[0]
	fn, _ := tc["function"].(map[string]any)
	if tc["index"] != 0.0 || tc["id"] == "" || tc["type"] != "function" || fn["name"] != "get_weather" || fn["arguments"] != "" {
		t.Fatalf("first tool-call delta %v", tc)
	}

	c := openAIClient(base, "k")
	p := chatParams("gpt-4o")
	p.Tools = []openai.ChatCompletionToolUnionParam{weatherTool}
	p.ToolChoice = openai.ToolChoiceOptionFunctionToolChoice(openai.ChatCompletionNamedToolChoiceFunctionParam{Name: "get_weather"})
	stream := c.Chat.Completions.NewStreaming(t.Context(), p)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	calls := acc.Choices[0].Message.ToolCalls
	if len(calls) != 1 || calls[0].Function.Name != "get_weather" || !json.Valid([]byte(calls[0].Function.Arguments)) || acc.Choices[0].FinishReason != "tool_calls" {
		t.Fatalf("accumulated %+v finish %q", calls, acc.Choices[0].FinishReason)
	}
}

func TestOpenAIErrors(t *testing.T) {
	s, base := start(t, OpenAI, Options{APIKeys: []string{"sk-good"}, TokensPerSecond: -1})
	tests := []struct {
		name      string
		key       string
		model     string
		inject    int
		status    int
		code      string
		typ       string
		retryHint bool
	}{
		{"bad key", "sk-bad", "gpt-4o", 0, 401, "invalid_api_key", "invalid_request_error", false},
		{"unknown model", "sk-good", "gpt-9", 0, 404, "model_not_found", "invalid_request_error", false},
		{"injected 429", "sk-good", "gpt-4o", 429, 429, "rate_limit_exceeded", "requests", true},
		{"injected 500", "sk-good", "gpt-4o", 500, 500, "", "server_error", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.inject != 0 {
				s.InjectStatus(tt.inject, 1)
			}
			c := openAIClient(base, tt.key)
			_, err := c.Chat.Completions.New(t.Context(), chatParams(tt.model))
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) {
				t.Fatalf("error %v is not an *openai.Error", err)
			}
			if apiErr.StatusCode != tt.status || apiErr.Code != tt.code || apiErr.Type != tt.typ || !apiErr.JSON.Code.Valid() && tt.code != "" {
				t.Fatalf("got %d code %q type %q, want %d %q %q", apiErr.StatusCode, apiErr.Code, apiErr.Type, tt.status, tt.code, tt.typ)
			}
			if !strings.Contains(apiErr.RawJSON(), `"code":`) || !strings.Contains(apiErr.RawJSON(), `"param":`) {
				t.Fatalf("error object %s lacks code or param", apiErr.RawJSON())
			}
			if got := apiErr.Response.Header.Get("retry-after"); (got != "") != tt.retryHint {
				t.Fatalf("retry-after %q", got)
			}
		})
	}
	good := openAIClient(base, "sk-good")
	if _, err := good.Chat.Completions.New(t.Context(), chatParams("gpt-4o")); err != nil {
		t.Fatalf("after the injections: %v", err)
	}
}

func TestOpenAIRateCaps(t *testing.T) {
	_, base := start(t, OpenAI, Options{RPM: 2, TokensPerSecond: -1})
	c := openAIClient(base, "k")
	for i := range 3 {
		var resp *http.Response
		_, err := c.Chat.Completions.New(t.Context(), chatParams("gpt-4o"), option.WithResponseInto(&resp))
		if i < 2 {
			if err != nil || resp.Header.Get("x-ratelimit-remaining-requests") != []string{"1", "0"}[i] {
				t.Fatalf("request %d: %v, remaining %q", i, err, resp.Header.Get("x-ratelimit-remaining-requests"))
			}
			continue
		}
		var apiErr *openai.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Response.Header.Get("retry-after") == "" {
			t.Fatalf("third request: %v", err)
		}
	}
	_, tpmBase := start(t, OpenAI, Options{TPM: 5, TokensPerSecond: -1})
	tc := openAIClient(tpmBase, "k")
	_, err := tc.Chat.Completions.New(t.Context(), chatParams("gpt-4o"))
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Type != "tokens" {
		t.Fatalf("over TPM: %v", err)
	}
}

func TestOpenAIEmbeddings(t *testing.T) {
	_, base := start(t, OpenAI, Options{})
	c := openAIClient(base, "k")
	inputs := []string{"first text", "second, longer text", "third"}
	floats, err := c.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
		Model: "text-embedding-3-small", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs},
	})
	if err != nil {
		t.Fatal(err)
	}
	b64, err := c.Embeddings.New(t.Context(), openai.EmbeddingNewParams{
		Model: "text-embedding-3-small", Input: openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: inputs},
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatBase64,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, in := range inputs {
		want += CountTokens(in)
	}
	if len(floats.Data) != 3 || floats.Usage.PromptTokens != int64(want) {
		t.Fatalf("data %d usage %+v", len(floats.Data), floats.Usage)
	}
	for i, d := range floats.Data {
		if d.Index != int64(i) || len(d.Embedding) != 64 {
			t.Fatalf("item %d: index %d len %d", i, d.Index, len(d.Embedding))
		}
		var s string
		if err := json.Unmarshal([]byte(b64.Data[i].JSON.Embedding.Raw()), &s); err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(raw) != 4*64 {
			t.Fatalf("base64 item %d: %v len %d", i, err, len(raw))
		}
		for j := range 64 {
			f := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*j:]))
			if f != float32(d.Embedding[j]) {
				t.Fatalf("item %d dim %d: base64 %v, float %v", i, j, f, d.Embedding[j])
			}
		}
	}
}

func TestOpenAIModels(t *testing.T) {
	_, base := start(t, OpenAICompatible, Options{Models: []string{"meta-llama/Llama-3.1-8B-Instruct", "qwen"}})
	c := openAIClient(base, "k")
	page, err := c.Models.List(t.Context())
	if err != nil || len(page.Data) != 2 || page.Data[0].ID != "meta-llama/Llama-3.1-8B-Instruct" {
		t.Fatalf("list %+v: %v", page, err)
	}
	m, err := c.Models.Get(t.Context(), "meta-llama/Llama-3.1-8B-Instruct")
	if err != nil || m.ID != "meta-llama/Llama-3.1-8B-Instruct" {
		t.Fatalf("get %+v: %v", m, err)
	}
	_, err = c.Models.Get(t.Context(), "nope/x")
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 404 || apiErr.Code != "model_not_found" {
		t.Fatalf("unknown model: %v", err)
	}
}
