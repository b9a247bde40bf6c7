package anthropic

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"aya/internal/llm"
)

func TestDecodeRequest(t *testing.T) {
	body := `{"model":"claude","max_tokens":100,"system":[{"type":"text","text":"a"},{"type":"text","text":"b"}],
		"stop_sequences":["\n\n"],"tool_choice":{"type":"any"},
		"tools":[{"name":"get","input_schema":{"type":"object"}}],
		"messages":[
		{"role":"user","content":"hi"},
		{"role":"assistant","content":[{"type":"text","text":"let me look"},{"type":"tool_use","id":"tu_1","name":"get","input":{"q":1}}]},
		{"role":"user","content":[{"type":"tool_result","tool_use_id":"tu_1","content":"found"},{"type":"text","text":"thanks"}]}]}`
	got, err := DecodeRequest([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	want := &llm.Request{Model: "claude", MaxTokens: 100, System: "a\n\nb", Stop: []string{"\n\n"}, IncludeUsage: true,
		ToolChoice: &llm.ToolChoice{Mode: llm.ToolRequired},
		Tools:      []llm.Tool{{Name: "get", Parameters: json.RawMessage(`{"type":"object"}`)}},
		Messages: []llm.Message{
			{Role: "user", Content: []llm.Part{{Type: "text", Text: "hi"}}},
			{Role: "assistant", Content: []llm.Part{{Type: "text", Text: "let me look"}}, ToolCalls: []llm.ToolCall{{ID: "tu_1", Name: "get", Arguments: `{"q":1}`}}},
			{Role: "tool", ToolCallID: "tu_1", Content: []llm.Part{{Type: "text", Text: "found"}}},
			{Role: "user", Content: []llm.Part{{Type: "text", Text: "thanks"}}},
		}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	for _, body := range []string{
		`{"model":"m","messages":[{"role":"user","content":"x"}]}`, // max_tokens is required
		`{"max_tokens":1,"messages":[{"role":"user","content":"x"}]}`,
		`{"model":"m","max_tokens":1,"messages":[{"role":"system","content":"x"}]}`,
		`{"model":"m","max_tokens":1,"messages":[{"role":"user","content":[{"type":"video"}]}]}`,
	} {
		if _, err := DecodeRequest([]byte(body)); err == nil || err.Status != 400 || err.Type != llm.ErrInvalidRequest {
			t.Errorf("%s: got %v, want a 400", body, err)
		}
	}
}

// TestEncodeRequestAlternation: OpenAI-style consecutive tool results become one user turn, and
// a missing max_tokens takes the default.
func TestEncodeRequestAlternation(t *testing.T) {
	req := &llm.Request{Model: "x", System: "sys",
		Messages: []llm.Message{
			{Role: "user", Content: []llm.Part{{Type: "text", Text: "q"}}},
			{Role: "assistant", ToolCalls: []llm.ToolCall{{ID: "a", Name: "f", Arguments: `{"x":1}`}, {ID: "b", Name: "f", Arguments: ``}}},
			{Role: "tool", ToolCallID: "a", Content: []llm.Part{{Type: "text", Text: "1"}}},
			{Role: "tool", ToolCallID: "b", Content: []llm.Part{{Type: "text", Text: "2"}}},
		},
		Tools:      []llm.Tool{{Name: "f"}},
		ToolChoice: &llm.ToolChoice{Mode: llm.ToolForced, Name: "f"},
	}
	got, err := EncodeRequest(req, "claude-x", 4096)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"model":"claude-x","max_tokens":4096,"system":"sys","messages":[{"role":"user","content":[{"type":"text","text":"q"}]},{"role":"assistant","content":[{"type":"tool_use","id":"a","name":"f","input":{"x":1}},{"type":"tool_use","id":"b","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"a","content":"1"},{"type":"tool_result","tool_use_id":"b","content":"2"}]}],"tools":[{"name":"f","input_schema":{"type":"object","properties":{}}}],"tool_choice":{"type":"tool","name":"f"}}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestEncodeResponse(t *testing.T) {
	tests := []struct {
		r    llm.Response
		want string
	}{
		{llm.Response{ID: "msg_1", Model: "c", Text: "hi", Finish: "stop", Usage: llm.Usage{Input: 12, Output: 2, CachedInput: 2}},
			`{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,"usage":{"input_tokens":10,"cache_creation_input_tokens":0,"cache_read_input_tokens":2,"output_tokens":2}}`},
		{llm.Response{ID: "msg_2", Model: "c", ToolCalls: []llm.ToolCall{{ID: "t", Name: "f", Arguments: `{"a":1}`}}, Finish: "tool_calls"},
			`{"id":"msg_2","type":"message","role":"assistant","model":"c","content":[{"type":"tool_use","id":"t","name":"f","input":{"a":1}}],"stop_reason":"tool_use","stop_sequence":null,"usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`},
		{llm.Response{ID: "msg_3", Model: "c", Text: "a", Finish: "stop", StopSequence: "END"},
			`{"id":"msg_3","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"a"}],"stop_reason":"stop_sequence","stop_sequence":"END","usage":{"input_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}}`},
	}
	for _, tt := range tests {
		got := EncodeResponse(&tt.r)
		if string(got) != tt.want {
			t.Errorf("got  %s\nwant %s", got, tt.want)
		}
		back, err := DecodeResponse(got)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(*back, tt.r) {
			t.Errorf("round trip: got %+v, want %+v", *back, tt.r)
		}
	}
}

func TestErrors(t *testing.T) {
	got := string(EncodeError(&llm.Error{Status: 404, Type: llm.ErrNotFound, Message: "model: x"}))
	if want := `{"type":"error","error":{"type":"not_found_error","message":"model: x"}}`; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	e := DecodeError(529, []byte(`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`))
	if e.Type != llm.ErrOverloaded || !e.Retryable() {
		t.Fatalf("%+v", e)
	}
}

func events() []llm.Event {
	return []llm.Event{
		{Kind: llm.EventStart, ID: "msg_1", Model: "c", Usage: llm.Usage{Input: 5}},
		{Kind: llm.EventText, Text: "Hi"},
		{Kind: llm.EventText, Text: " there"},
		{Kind: llm.EventToolStart, Index: 0, ID: "tu_1", Name: "f"},
		{Kind: llm.EventToolArgs, Index: 0, Text: `{"a":`},
		{Kind: llm.EventToolArgs, Index: 0, Text: `1}`},
		{Kind: llm.EventUsage, Usage: llm.Usage{Input: 5, Output: 7}},
		{Kind: llm.EventFinish, Finish: "tool_calls"},
	}
}

func TestStreamWriter(t *testing.T) {
	var b bytes.Buffer
	w := NewStreamWriter(&b, func() error { return nil })
	for _, ev := range events() {
		if err := w.Write(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	want := `event: message_start
data: {"message":{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":0}},"type":"message_start"}

event: ping
data: {"type":"ping"}

event: content_block_start
data: {"content_block":{"type":"text","text":""},"index":0,"type":"content_block_start"}

event: content_block_delta
data: {"delta":{"text":"Hi","type":"text_delta"},"index":0,"type":"content_block_delta"}

event: content_block_delta
data: {"delta":{"text":" there","type":"text_delta"},"index":0,"type":"content_block_delta"}

event: content_block_stop
data: {"index":0,"type":"content_block_stop"}

event: content_block_start
data: {"content_block":{"type":"tool_use","id":"tu_1","name":"f","input":{}},"index":1,"type":"content_block_start"}

event: content_block_delta
data: {"delta":{"partial_json":"{\"a\":","type":"input_json_delta"},"index":1,"type":"content_block_delta"}

event: content_block_delta
data: {"delta":{"partial_json":"1}","type":"input_json_delta"},"index":1,"type":"content_block_delta"}

event: content_block_stop
data: {"index":1,"type":"content_block_stop"}

event: message_delta
data: {"delta":{"stop_reason":"tool_use","stop_sequence":null},"type":"message_delta","usage":{"input_tokens":5,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":7}}

event: message_stop
data: {"type":"message_stop"}

`
	if b.String() != want {
		t.Fatalf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	// Every data's "type" matches its event: line (the Go SDK drops mismatched events).
	r := llm.NewSSEReader(strings.NewReader(b.String()))
	for {
		name, data, err := r.Next()
		if err == io.EOF {
			break
		}
		var v struct{ Type string }
		if err := json.Unmarshal(data, &v); err != nil || v.Type != string(name) {
			t.Fatalf("event %q carries type %q", name, v.Type)
		}
	}

	sr := NewStreamReader(io.NopCloser(strings.NewReader(b.String())))
	var got []llm.Event
	for {
		ev, err := sr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ev)
	}
	wantEv := events()
	if !reflect.DeepEqual(got, wantEv) {
		t.Fatalf("round trip:\ngot  %+v\nwant %+v", got, wantEv)
	}
}

func TestStreamReaderCutShort(t *testing.T) {
	body := "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"usage\":{\"input_tokens\":1}}}\n\n"
	sr := NewStreamReader(io.NopCloser(strings.NewReader(body)))
	if _, err := sr.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := sr.Next(); err == nil || errors.Is(err, io.EOF) {
		t.Fatalf("got %v, want an error for a stream without message_stop", err)
	}
}

func BenchmarkStreamWriterText(b *testing.B) {
	b.ReportAllocs()
	w := NewStreamWriter(io.Discard, func() error { return nil })
	ev := llm.Event{Kind: llm.EventText, Text: "hello"}
	for b.Loop() {
		if err := w.Write(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeRequest(b *testing.B) {
	b.ReportAllocs()
	body := []byte(`{"model":"claude","max_tokens":64,"system":"You are terse.","messages":[{"role":"user","content":"Say hello to the gateway, please, in a few words."}],"stream":true}`)
	for b.Loop() {
		if _, err := DecodeRequest(body); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeRequest(b *testing.B) {
	b.ReportAllocs()
	req, _ := DecodeRequest([]byte(`{"model":"claude","max_tokens":64,"system":"You are terse.","messages":[{"role":"user","content":"Say hello to the gateway, please, in a few words."}]}`))
	for b.Loop() {
		if _, err := EncodeRequest(req, "claude-x", 4096); err != nil {
			b.Fatal(err)
		}
	}
}
