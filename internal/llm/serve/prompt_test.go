package serve

import (
	"encoding/json"
	"strings"
	"testing"

	"aya/internal/httpx"
	"aya/internal/llm"
)

func TestRender(t *testing.T) {
	in := map[string]any{"text": "a cat", "n": json.Number("12"), "tags": []any{"x", "y"}, "on": true}
	got := render("Summarize {{text}} in {{ n }} words; tags {{tags}}, {{on}}, {{missing}}.", in)
	if want := `Summarize a cat in 12 words; tags ["x","y"], true, .`; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestInputSchema(t *testing.T) {
	s := &InputSchema{Required: []string{"text"}, Properties: map[string]string{"text": "string", "n": "integer", "ratio": "number", "opts": "object", "list": "array", "on": "boolean"}}
	tests := []struct {
		in, param, msg string
	}{
		{`{"text":"x","n":3,"ratio":0.5,"opts":{},"list":[],"on":false,"extra":1}`, "", ""},
		{`{"text":"x","n":3.0}`, "", ""},
		{`{"n":3}`, "text", `field "text": is required`},
		{`{"text":5}`, "text", `field "text": want a string, got number`},
		{`{"text":"x","n":2.5}`, "n", `field "n": want an integer, got number`},
		{`{"text":"x","n":"3"}`, "n", `field "n": want an integer, got string`},
		{`{"text":"x","list":{}}`, "list", `want an array, got object`},
		{`{"text":null}`, "text", `want a string, got null`},
	}
	for _, tt := range tests {
		dec := json.NewDecoder(strings.NewReader(tt.in))
		dec.UseNumber()
		var in map[string]any
		if err := dec.Decode(&in); err != nil {
			t.Fatal(err)
		}
		e := s.check(in)
		switch {
		case tt.param == "" && e != nil:
			t.Errorf("%s: %v", tt.in, e.Message)
		case tt.param != "" && (e == nil || e.Param != tt.param || e.Status != 400 || !strings.Contains(e.Message, tt.msg)):
			t.Errorf("%s: got %+v, want param %s and %q", tt.in, e, tt.param, tt.msg)
		}
	}
}

func TestPromptEncode(t *testing.T) {
	js := &Prompt{Name: "p", Model: "m", JSON: true}
	for in, want := range map[string]string{
		`{"a": 1}`:                   `{"a":1}`,
		"```json\n{\"a\": [1]}\n```": `{"a":[1]}`,
	} {
		if b, e := js.encode(&llm.Response{Text: in}, 0); e != nil || string(b) != want {
			t.Errorf("%q: %s %v", in, b, e)
		}
	}
	if _, e := js.encode(&llm.Response{Text: "Sure! here it is"}, 0); e == nil || e.Status != 502 {
		t.Errorf("not JSON: %v", e)
	}
	if b, _ := (&Prompt{}).encode(&llm.Response{Text: `say "hi"`}, 0); string(b) != `{"text":"say \"hi\""}` {
		t.Errorf("text: %s", b)
	}
}

// TestPromptEndpoint: the template is filled from the body and sent to the model; the answer
// is the model's JSON; bad input is a 400 naming the field; other methods 405; the call log
// has the call.
func TestPromptEndpoint(t *testing.T) {
	e := newEnv(t, nil)
	log := NewCallLog(8)
	e.h.SetRecorder(log)
	e.h.SetPrompts([]*Prompt{
		{Name: "summarize", Path: "/api/summarize", Model: "gpt", Template: "Summarize {{text}} in {{n}} words", JSON: true,
			Schema: &InputSchema{Required: []string{"text", "n"}, Properties: map[string]string{"text": "string", "n": "integer"}}},
		{Name: "echo", Path: "/api/echo", Model: "claude", System: "You echo.", Template: "{{x}}"},
	})
	if !e.h.Owns(httpxReq("/api/summarize")) || e.h.Owns(httpxReq("/api/other")) {
		t.Fatal("Owns does not follow the prompt paths")
	}
	w := e.do("POST", "/api/summarize", `{"text":"the gateway","n":5}`)
	if w.status != 200 || w.header.Get("Content-Type") != "application/json" || w.header.Get("X-Aya-Provider") != "oa" {
		t.Fatalf("%d %s", w.status, w.body.String())
	}
	var out map[string]any
	if err := json.Unmarshal(w.body.Bytes(), &out); err != nil || out["answer"] == nil {
		t.Fatalf("want the model's JSON object: %s", w.body.String())
	}
	w = e.do("POST", "/api/echo", `{"x":"hello"}`)
	var txt struct{ Text string }
	if json.Unmarshal(w.body.Bytes(), &txt); w.status != 200 || txt.Text == "" {
		t.Fatalf("echo: %d %s", w.status, w.body.String())
	}
	for body, param := range map[string]string{`{"text":"x"}`: "n", `{"text":"x","n":"five"}`: "n", `{"n":1}`: "text"} {
		w := e.do("POST", "/api/summarize", body)
		var er struct {
			Error struct{ Param, Message string }
		}
		if json.Unmarshal(w.body.Bytes(), &er); w.status != 400 || er.Error.Param != param || !strings.Contains(er.Error.Message, `"`+param+`"`) {
			t.Errorf("%s: %d %s", body, w.status, w.body.String())
		}
	}
	if w := e.do("POST", "/api/summarize", `[1]`); w.status != 400 {
		t.Errorf("array body: %d", w.status)
	}
	if w := e.do("GET", "/api/summarize", ``); w.status != 405 {
		t.Errorf("GET: %d", w.status)
	}
	calls := log.Query(CallFilter{Status: 200})
	if len(calls) != 2 || calls[1].API != "prompt" || calls[1].Model != "gpt" || calls[1].OutputTokens == 0 {
		t.Fatalf("call log: %+v", calls)
	}
}

func BenchmarkPromptRender(b *testing.B) {
	b.ReportAllocs()
	in := map[string]any{"text": "the gateway routes every request", "n": json.Number("12")}
	for b.Loop() {
		render("Summarize {{text}} in {{n}} words", in)
	}
}

func httpxReq(path string) *httpx.Request { return &httpx.Request{Method: "POST", Path: path} }
