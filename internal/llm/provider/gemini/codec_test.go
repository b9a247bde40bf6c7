package gemini

import (
	"io"
	"strings"
	"testing"

	"aya/internal/llm"
)

func TestEncodeRequest(t *testing.T) {
	req := &llm.Request{System: "sys", MaxTokens: 5, Stop: []string{"x"},
		Messages: []llm.Message{
			{Role: "user", Content: []llm.Part{{Type: "text", Text: "q"}, {Type: "image", MediaType: "image/png", Data: "AA"}}},
			{Role: "assistant", ToolCalls: []llm.ToolCall{{ID: "c1", Name: "f", Arguments: `{"a":1}`}, {ID: "c2", Name: "g", Arguments: `{}`}}},
			{Role: "tool", ToolCallID: "c1", Content: []llm.Part{{Type: "text", Text: "plain"}}},
			{Role: "tool", ToolCallID: "c2", Content: []llm.Part{{Type: "text", Text: `{"ok":true}`}}},
		},
		Tools:          []llm.Tool{{Name: "f"}, {Name: "g"}},
		ToolChoice:     &llm.ToolChoice{Mode: llm.ToolForced, Name: "f"},
		ResponseFormat: &llm.ResponseFormat{Type: "json_object"},
	}
	got, err := encodeRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"contents":[{"role":"user","parts":[{"text":"q"},{"inlineData":{"mimeType":"image/png","data":"AA"}}]},{"role":"model","parts":[{"functionCall":{"name":"f","args":{"a":1}}},{"functionCall":{"name":"g","args":{}}}]},{"role":"user","parts":[{"functionResponse":{"name":"f","response":{"result":"plain"}}},{"functionResponse":{"name":"g","response":{"ok":true}}}]}],"systemInstruction":{"parts":[{"text":"sys"}]},"tools":[{"functionDeclarations":[{"name":"f"},{"name":"g"}]}],"toolConfig":{"functionCallingConfig":{"mode":"ANY","allowedFunctionNames":["f"]}},"generationConfig":{"maxOutputTokens":5,"stopSequences":["x"],"responseMimeType":"application/json"}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestStreamReader(t *testing.T) {
	body := `data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Hel"}]}}],"modelVersion":"gemini-x","responseId":"r1"}

data: {"candidates":[{"content":{"role":"model","parts":[{"text":"lo"}]},"finishReason":"MAX_TOKENS"}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":2,"thoughtsTokenCount":1}}

`
	s := &streamReader{sse: llm.NewSSEReader(strings.NewReader(body)), body: io.NopCloser(nil)}
	var kinds []llm.EventKind
	var last llm.Event
	for {
		ev, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		kinds = append(kinds, ev.Kind)
		if ev.Kind == llm.EventFinish && ev.Finish != llm.FinishLength {
			t.Fatalf("finish %q, want length", ev.Finish)
		}
		last = ev
	}
	want := []llm.EventKind{llm.EventStart, llm.EventText, llm.EventText, llm.EventFinish, llm.EventUsage}
	if len(kinds) != len(want) {
		t.Fatalf("got %v, want %v", kinds, want)
	}
	if last.Usage != (llm.Usage{Input: 4, Output: 3, Reasoning: 1}) {
		t.Fatalf("usage %+v", last.Usage)
	}
}
