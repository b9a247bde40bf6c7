package openai

import (
	"encoding/json"
	"reflect"
	"testing"

	"aya/internal/llm"
)

func TestDecodeRequest(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	tests := []struct {
		name string
		body string
		want *llm.Request
	}{
		{
			name: "string content, developer role is system, max_completion_tokens wins",
			body: `{"model":"gpt-4o","messages":[{"role":"developer","content":"be brief"},{"role":"system","content":[{"type":"text","text":"be kind"}]},{"role":"user","content":"hi"}],"max_tokens":5,"max_completion_tokens":7,"temperature":0.5,"stop":"END","stream":true,"stream_options":{"include_usage":true}}`,
			want: &llm.Request{Model: "gpt-4o", System: "be brief\n\nbe kind", MaxTokens: 7, Temperature: f(0.5), Stop: []string{"END"}, Stream: true, IncludeUsage: true,
				Messages: []llm.Message{{Role: "user", Content: []llm.Part{{Type: "text", Text: "hi"}}}}},
		},
		{
			name: "image parts, tools, forced tool choice, tool results",
			body: `{"model":"m","messages":[
				{"role":"user","content":[{"type":"text","text":"what is this"},{"type":"image_url","image_url":{"url":"data:image/png;base64,AAAA"}}]},
				{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"look","arguments":"{\"x\":1}"}}]},
				{"role":"tool","tool_call_id":"call_1","content":"a cat"}],
				"tools":[{"type":"function","function":{"name":"look","description":"d","parameters":{"type":"object"}}}],
				"tool_choice":{"type":"function","function":{"name":"look"}},"stop":["a","b"],"response_format":{"type":"json_object"}}`,
			want: &llm.Request{Model: "m", Stop: []string{"a", "b"},
				Messages: []llm.Message{
					{Role: "user", Content: []llm.Part{{Type: "text", Text: "what is this"}, {Type: "image", MediaType: "image/png", Data: "AAAA"}}},
					{Role: "assistant", ToolCalls: []llm.ToolCall{{ID: "call_1", Name: "look", Arguments: `{"x":1}`}}},
					{Role: "tool", ToolCallID: "call_1", Content: []llm.Part{{Type: "text", Text: "a cat"}}},
				},
				Tools:          []llm.Tool{{Name: "look", Description: "d", Parameters: json.RawMessage(`{"type":"object"}`)}},
				ToolChoice:     &llm.ToolChoice{Mode: "tool", Name: "look"},
				ResponseFormat: &llm.ResponseFormat{Type: "json_object"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeRequest([]byte(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	tests := []struct{ body, param string }{
		{`{"messages":[{"role":"user","content":"x"}]}`, "model"},
		{`{"model":"m","messages":[]}`, "messages"},
		{`{"model":"m","messages":[{"role":"robot","content":"x"}]}`, "messages[0].role"},
		{`{"model":"m","messages":[{"role":"tool","content":"x"}]}`, "messages[0].tool_call_id"},
		{`{"model":"m","n":2,"messages":[{"role":"user","content":"x"}]}`, "n"},
		{`{"model":"m","tool_choice":"maybe","messages":[{"role":"user","content":"x"}]}`, "tool_choice"},
		{`not json`, ""},
	}
	for _, tt := range tests {
		_, err := DecodeRequest([]byte(tt.body))
		if err == nil || err.Status != 400 || err.Param != tt.param {
			t.Errorf("%s: got %+v, want 400 with param %q", tt.body, err, tt.param)
		}
	}
}

func TestEncodeRequestForcesUsageOnStreams(t *testing.T) {
	req := &llm.Request{Model: "alias", System: "sys", Stream: true, MaxTokens: 9, Stop: []string{"x"},
		Messages: []llm.Message{
			{Role: "user", Content: []llm.Part{{Type: "text", Text: "hi"}, {Type: "image", URL: "https://x/y.png"}}},
			{Role: "assistant", ToolCalls: []llm.ToolCall{{ID: "c1", Name: "f", Arguments: `{}`}}},
			{Role: "tool", ToolCallID: "c1", Content: []llm.Part{{Type: "text", Text: "r"}}},
		},
		ToolChoice: &llm.ToolChoice{Mode: "required"},
	}
	got, err := EncodeRequest(req, "gpt-4o-2024")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model":"gpt-4o-2024","messages":[{"role":"system","content":"sys"},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"https://x/y.png"}}]},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","content":"r","tool_call_id":"c1"}],"tool_choice":"required","stop":["x"],"max_tokens":9,"stream":true,"stream_options":{"include_usage":true}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestEncodeError(t *testing.T) {
	tests := []struct {
		e    *llm.Error
		want string
	}{
		{&llm.Error{Status: 404, Type: llm.ErrNotFound, Message: "no model x"}, `{"error":{"message":"no model x","type":"invalid_request_error","param":null,"code":"model_not_found"}}`},
		{&llm.Error{Status: 400, Type: llm.ErrInvalidRequest, Message: "bad", Param: "model"}, `{"error":{"message":"bad","type":"invalid_request_error","param":"model","code":null}}`},
		{&llm.Error{Status: 429, Type: llm.ErrRateLimit, Message: "slow"}, `{"error":{"message":"slow","type":"rate_limit_error","param":null,"code":"rate_limit_exceeded"}}`},
	}
	for _, tt := range tests {
		if got := string(EncodeError(tt.e)); got != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
	}
}

func TestDecodeError(t *testing.T) {
	e := DecodeError(429, []byte(`{"error":{"message":"Rate limit reached","type":"requests","param":null,"code":"rate_limit_exceeded"}}`))
	if e.Type != llm.ErrRateLimit || e.Message != "Rate limit reached" || e.Code != "rate_limit_exceeded" || !e.Retryable() {
		t.Fatalf("%+v", e)
	}
	e = DecodeError(500, []byte(`oops`))
	if e.Type != llm.ErrServer || e.Status != 500 {
		t.Fatalf("%+v", e)
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	b.ReportAllocs()
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to the gateway, please, in a few words."}],"max_tokens":64,"stream":true,"stream_options":{"include_usage":true}}`)
	for b.Loop() {
		if _, err := DecodeRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeRequest(b *testing.B) {
	b.ReportAllocs()
	req, _ := DecodeRequest([]byte(`{"model":"gpt-4o","messages":[{"role":"system","content":"You are terse."},{"role":"user","content":"Say hello to the gateway, please, in a few words."}],"max_tokens":64}`))
	for b.Loop() {
		if _, err := EncodeRequest(req, "gpt-4o"); err != nil {
			b.Fatal(err)
		}
	}
}
