package openai

import (
	"encoding/json"
	"math"
	"testing"

	"aya/internal/llm"
)

func textMsg(role, text string) llm.Message {
	return llm.Message{Role: role, Content: []llm.Part{{Type: llm.PartText, Text: text}}}
}

// TestEncodeRequestMatchesJSON: the hand-written request is what json.Marshal writes.
func TestEncodeRequestMatchesJSON(t *testing.T) {
	temp, topP, seed := 0.7, 1e-7, int64(42)
	tests := []*llm.Request{
		{MaxTokens: 16, System: "be <brief>", Messages: []llm.Message{textMsg(llm.RoleUser, "say \"hi\"\n")}},
		{Stream: true, Temperature: &temp, TopP: &topP, Seed: &seed, User: "u&1", Stop: []string{"\n\n", "END"},
			Messages: []llm.Message{textMsg(llm.RoleUser, "a"), textMsg(llm.RoleAssistant, "b"), {Role: llm.RoleTool, ToolCallID: "c1", Content: []llm.Part{{Type: llm.PartText, Text: "42"}}}}},
		{Messages: []llm.Message{{Role: llm.RoleAssistant}, {Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartText, Text: "look"}, {Type: llm.PartImage, URL: "https://x/y.png"}}}}},
		{ToolChoice: &llm.ToolChoice{Mode: llm.ToolNone}, Messages: []llm.Message{textMsg(llm.RoleUser, "x")}},
		{},
	}
	for i, req := range tests {
		cr := wireRequest(req, "model<"+string(rune('a'+i)))
		got, ok := appendRequest(nil, &cr)
		want, err := json.Marshal(&cr)
		if !ok || err != nil {
			t.Fatalf("%d: written by hand %v, json %v", i, ok, err)
		}
		if string(got) != string(want) {
			t.Fatalf("%d:\ngot  %s\nwant %s", i, got, want)
		}
	}
}

func TestAppendFloatMatchesJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1, 0.7, 1.0 / 3, 1e-6, 9.99e-7, 1e-7, 1e20, 1e21, 123456789.125, -2.5e-10, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		got, ok := appendFloatField(nil, "", &f)
		want, err := json.Marshal(f)
		if !ok || err != nil || string(got) != string(want) {
			t.Errorf("%v: got %s, want %s", f, got, want)
		}
	}
	for _, f := range []float64{math.NaN(), math.Inf(1)} {
		if _, ok := appendFloatField(nil, "", &f); ok {
			t.Errorf("%v was written; json.Marshal refuses it", f)
		}
	}
}

func FuzzAppendFloat(f *testing.F) {
	f.Add(0.7)
	f.Add(1e-7)
	f.Fuzz(func(t *testing.T, v float64) {
		got, ok := appendFloatField(nil, "", &v)
		want, err := json.Marshal(v)
		if ok != (err == nil) || ok && string(got) != string(want) {
			t.Fatalf("%v: got %s %v, want %s %v", v, got, ok, want, err)
		}
	})
}

func BenchmarkEncodeRequestText(b *testing.B) {
	temp := 0.7
	req := &llm.Request{MaxTokens: 16, Temperature: &temp, System: "be brief", Messages: []llm.Message{textMsg(llm.RoleUser, "say hello to the benchmark")}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EncodeRequest(req, "gpt-4o-mini"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEncodeRequestLeavesToJSON: tools, tool calls and a response format go through
// json.Marshal.
func TestEncodeRequestLeavesToJSON(t *testing.T) {
	tests := []*llm.Request{
		{Tools: []llm.Tool{{Name: "f", Parameters: json.RawMessage(`{"type":"object"}`)}}, Messages: []llm.Message{textMsg(llm.RoleUser, "x")}},
		{ResponseFormat: &llm.ResponseFormat{Type: "json_object"}, Messages: []llm.Message{textMsg(llm.RoleUser, "x")}},
		{Messages: []llm.Message{{Role: llm.RoleAssistant, ToolCalls: []llm.ToolCall{{ID: "c", Name: "f", Arguments: "{}"}}}}},
	}
	for i, req := range tests {
		cr := wireRequest(req, "m")
		if _, ok := appendRequest(nil, &cr); ok {
			t.Errorf("%d: written by hand", i)
		}
		if _, err := EncodeRequest(req, "m"); err != nil {
			t.Errorf("%d: %v", i, err)
		}
	}
}
