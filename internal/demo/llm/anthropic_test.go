package llmdemo

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	"github.com/anthropics/anthropic-sdk-go/v2/option"
)

func anthropicClient(base, key string) anthropic.Client {
	return anthropic.NewClient(option.WithBaseURL(base+"/"), option.WithAPIKey(key), option.WithMaxRetries(0))
}

func messageParams(model string) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model:     anthropic.Model(model),
		MaxTokens: 256,
		System:    []anthropic.TextBlockParam{{Text: "You are terse."}},
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello to the gateway."))},
	}
}

var lookupTool = anthropic.ToolUnionParamOfTool(anthropic.ToolInputSchemaParam{
	Properties: map[string]any{"city": map[string]any{"type": "string"}, "days": map[string]any{"type": "integer"}},
	Required:   []string{"city"},
}, "get_weather")

func TestAnthropicMessages(t *testing.T) {
	_, base := start(t, Anthropic, Options{APIKeys: []string{"sk-ant"}, TokensPerSecond: -1})
	c := anthropicClient(base, "sk-ant")
	var resp *http.Response
	m, err := c.Messages.New(t.Context(), messageParams("claude-sonnet-4-5"), option.WithResponseInto(&resp))
	if err != nil {
		t.Fatal(err)
	}
	text := m.Content[0].Text
	wantIn := CountTokens("You are terse.") + CountTokens("Say hello to the gateway.")
	if m.StopReason != "end_turn" || text == "" || m.Usage.InputTokens != int64(wantIn) || m.Usage.OutputTokens != int64(CountTokens(text)) {
		t.Fatalf("stop %q text %q usage %+v want in %d", m.StopReason, text, m.Usage, wantIn)
	}
	if resp.Header.Get("request-id") == "" || resp.Header.Get("anthropic-ratelimit-requests-remaining") == "" {
		t.Fatalf("headers %v", resp.Header)
	}
	if !strings.Contains(m.RawJSON(), `"stop_sequence":null`) {
		t.Fatalf("stop_sequence key missing: %s", m.RawJSON())
	}

	tests := []struct {
		name   string
		modify func(*anthropic.MessageNewParams)
		check  func(t *testing.T, m *anthropic.Message)
	}{
		{"max_tokens", func(p *anthropic.MessageNewParams) { p.MaxTokens = 3 }, func(t *testing.T, m *anthropic.Message) {
			if m.StopReason != "max_tokens" || m.Usage.OutputTokens != 3 {
				t.Fatalf("stop %q usage %+v", m.StopReason, m.Usage)
			}
		}},
		{"stop_sequences", func(p *anthropic.MessageNewParams) { p.StopSequences = []string{" " + strings.Fields(text)[2]} },
			func(t *testing.T, m *anthropic.Message) {
				if m.StopReason != "stop_sequence" || m.StopSequence != " "+strings.Fields(text)[2] || !strings.HasPrefix(text, m.Content[0].Text) {
					t.Fatalf("stop %q seq %q text %q", m.StopReason, m.StopSequence, m.Content[0].Text)
				}
			}},
		{"forced tool", func(p *anthropic.MessageNewParams) {
			p.Tools = []anthropic.ToolUnionParam{lookupTool}
			p.ToolChoice = anthropic.ToolChoiceParamOfTool("get_weather")
		}, func(t *testing.T, m *anthropic.Message) {
			b := m.Content[0]
			var in struct{ City string }
			if m.StopReason != "tool_use" || b.Type != "tool_use" || b.Name != "get_weather" || b.ID == "" || json.Unmarshal(b.Input, &in) != nil || in.City == "" {
				t.Fatalf("stop %q block %+v", m.StopReason, b)
			}
		}},
		{"tool result ends the loop in text", func(p *anthropic.MessageNewParams) {
			p.Tools = []anthropic.ToolUnionParam{lookupTool}
			p.Messages = append(p.Messages,
				anthropic.NewAssistantMessage(anthropic.NewToolUseBlock("toolu_1", map[string]any{"city": "Paris"}, "get_weather")),
				anthropic.NewUserMessage(anthropic.NewToolResultBlock("toolu_1", "sunny", false)))
		}, func(t *testing.T, m *anthropic.Message) {
			if m.StopReason != "end_turn" || m.Content[0].Type != "text" {
				t.Fatalf("stop %q block %+v", m.StopReason, m.Content[0])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := messageParams("claude-sonnet-4-5")
			tt.modify(&p)
			got, err := c.Messages.New(t.Context(), p)
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

func TestAnthropicStream(t *testing.T) {
	gap := 10 * time.Millisecond
	_, base := start(t, Anthropic, Options{TokensPerSecond: float64(time.Second / gap)})
	c := anthropicClient(base, "k")
	for _, tool := range []bool{false, true} {
		p := messageParams("claude-haiku-4-5")
		if tool {
			p.Tools = []anthropic.ToolUnionParam{lookupTool}
			p.ToolChoice = anthropic.ToolChoiceParamOfTool("get_weather")
		}
		stream := c.Messages.NewStreaming(t.Context(), p)
		var msg anthropic.Message
		var deltas []sseLine
		for stream.Next() {
			ev := stream.Current()
			if err := msg.Accumulate(ev); err != nil {
				t.Fatal(err)
			}
			if ev.Type == "content_block_delta" {
				deltas = append(deltas, sseLine{ev.Delta.Text + ev.Delta.PartialJSON, time.Now()})
			}
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		assertPaced(t, deltas, gap)
		b := msg.Content[0]
		switch {
		case !tool && (msg.StopReason != "end_turn" || msg.Usage.OutputTokens != int64(CountTokens(b.Text))):
			t.Fatalf("text stream: stop %q usage %+v text %q", msg.StopReason, msg.Usage, b.Text)
		case tool && (msg.StopReason != "tool_use" || b.Name != "get_weather" || !json.Valid(b.Input)):
			t.Fatalf("tool stream: stop %q block %+v", msg.StopReason, b)
		}
	}
}

// TestAnthropicStreamFraming checks the raw event sequence: every data line follows an event
// line naming its type, block indexes from 0, content_block_stop before message_delta, and
// nothing after message_stop.
func TestAnthropicStreamFraming(t *testing.T) {
	_, base := start(t, Anthropic, Options{TokensPerSecond: -1})
	body := `{"model":"claude-haiku-4-5","max_tokens":50,"stream":true,"system":"be brief","messages":[{"role":"user","content":"hi"}]}`
	resp, lines := post(t, base+"/v1/messages", map[string]string{"anthropic-version": "2023-06-01", "x-api-key": "k"}, body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var types []string
	name := ""
	for _, l := range lines {
		if n, ok := strings.CutPrefix(l.text, "event: "); ok {
			name = n
			continue
		}
		d, ok := strings.CutPrefix(l.text, "data: ")
		if !ok {
			continue
		}
		var ev struct {
			Type  string `json:"type"`
			Index *int   `json:"index"`
		}
		if err := json.Unmarshal([]byte(d), &ev); err != nil || ev.Type != name {
			t.Fatalf("data %s after event %q: %v", d, name, err)
		}
		if ev.Index != nil && *ev.Index != 0 {
			t.Fatalf("index %d", *ev.Index)
		}
		if len(types) == 0 || types[len(types)-1] != ev.Type || ev.Type != "content_block_delta" {
			types = append(types, ev.Type)
		}
	}
	want := "message_start content_block_start ping content_block_delta content_block_stop message_delta message_stop"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("events %q, want %q", got, want)
	}
}

func TestAnthropicErrors(t *testing.T) {
	s, base := start(t, Anthropic, Options{APIKeys: []string{"sk-ant"}, TokensPerSecond: -1})
	tests := []struct {
		name   string
		key    string
		model  string
		inject int
		status int
		typ    string
	}{
		{"bad key", "sk-bad", "claude-sonnet-4-5", 0, 401, "authentication_error"},
		{"unknown model", "sk-ant", "claude-9", 0, 404, "not_found_error"},
		{"overloaded", "sk-ant", "claude-sonnet-4-5", 529, 529, "overloaded_error"},
		{"rate limited", "sk-ant", "claude-sonnet-4-5", 429, 429, "rate_limit_error"},
		{"server error", "sk-ant", "claude-sonnet-4-5", 500, 500, "api_error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.inject != 0 {
				s.InjectStatus(tt.inject, 1)
			}
			c := anthropicClient(base, tt.key)
			_, err := c.Messages.New(t.Context(), messageParams(tt.model))
			var apiErr *anthropic.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != tt.status || string(apiErr.Type()) != tt.typ || apiErr.RequestID == "" {
				t.Fatalf("error %v, want %d %s with a request id", err, tt.status, tt.typ)
			}
			if tt.status == 429 && apiErr.Response.Header.Get("retry-after") == "" {
				t.Fatal("429 without retry-after")
			}
		})
	}
	headers := []struct {
		name   string
		hdr    map[string]string
		body   string
		status int
		typ    string
	}{
		{"no key", map[string]string{"anthropic-version": "2023-06-01"}, `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, 401, "authentication_error"},
		{"no version", map[string]string{"x-api-key": "sk-ant"}, `{"model":"claude-sonnet-4-5","max_tokens":5,"messages":[{"role":"user","content":"x"}]}`, 400, "invalid_request_error"},
		{"no max_tokens", map[string]string{"x-api-key": "sk-ant", "anthropic-version": "2023-06-01"}, `{"model":"claude-sonnet-4-5","messages":[{"role":"user","content":"x"}]}`, 400, "invalid_request_error"},
	}
	for _, tt := range headers {
		t.Run(tt.name, func(t *testing.T) {
			resp, lines := post(t, base+"/v1/messages", tt.hdr, tt.body)
			var e struct {
				Type  string `json:"type"`
				Error struct{ Type, Message string }
			}
			if err := json.Unmarshal([]byte(lines[0].text), &e); err != nil || resp.StatusCode != tt.status || e.Type != "error" || e.Error.Type != tt.typ || e.Error.Message == "" {
				t.Fatalf("status %d body %q", resp.StatusCode, lines[0].text)
			}
		})
	}
}
