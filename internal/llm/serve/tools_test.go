package serve

import (
	"encoding/json"
	"strings"
	"testing"

	"aya/internal/llm"
)

const oaTools = `,"tools":[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}],"tool_choice":{"type":"function","function":{"name":"get_weather"}}`
const anTools = `,"tools":[{"name":"get_weather","input_schema":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}],"tool_choice":{"type":"tool","name":"get_weather"}`

// TestToolCallsAcrossProviders forces a tool call through each ingress API to each provider,
// streamed and not, and checks the call arrives in the client's own shape with arguments that
// parse as JSON.
func TestToolCallsAcrossProviders(t *testing.T) {
	e := newEnv(t, nil)
	for _, model := range []string{"gpt", "claude"} {
		// OpenAI, whole answer.
		w := e.do("POST", "/v1/chat/completions", body(oaBody, model, oaTools))
		var c struct {
			Choices []struct {
				Message struct {
					ToolCalls []struct {
						ID       string
						Type     string
						Function struct{ Name, Arguments string }
					} `json:"tool_calls"`
				}
				FinishReason string `json:"finish_reason"`
			}
		}
		if err := json.Unmarshal(w.body.Bytes(), &c); err != nil || len(c.Choices[0].Message.ToolCalls) != 1 || c.Choices[0].FinishReason != "tool_calls" {
			t.Fatalf("openai → %s: %s", model, w.body.String())
		}
		tc := c.Choices[0].Message.ToolCalls[0]
		if tc.ID == "" || tc.Type != "function" || tc.Function.Name != "get_weather" || !json.Valid([]byte(tc.Function.Arguments)) {
			t.Fatalf("openai → %s: %+v", model, tc)
		}

		// OpenAI, streamed: the first tool delta has id, type, name and arguments "", every
		// delta has an index, and the fragments join into JSON.
		w = e.do("POST", "/v1/chat/completions", body(oaBody, model, oaTools+`,"stream":true`))
		var args strings.Builder
		first := true
		for _, line := range strings.Split(w.body.String(), "\n\n") {
			data, ok := strings.CutPrefix(line, "data: ")
			if !ok || data == "[DONE]" {
				continue
			}
			var ch struct {
				Choices []struct {
					Delta struct {
						ToolCalls []struct {
							Index    *int
							ID       string
							Type     string
							Function struct {
								Name      string
								Arguments *string
							}
						} `json:"tool_calls"`
					}
				}
			}
			if err := json.Unmarshal([]byte(data), &ch); err != nil {
				t.Fatal(err)
			}
			for _, c := range ch.Choices {
				for _, d := range c.Delta.ToolCalls {
					if d.Index == nil || *d.Index != 0 {
						t.Fatalf("openai stream → %s: tool delta without index 0: %s", model, data)
					}
					if first && (d.ID == "" || d.Type != "function" || d.Function.Name == "" || d.Function.Arguments == nil || *d.Function.Arguments != "") {
						t.Fatalf("openai stream → %s: first tool delta: %s", model, data)
					}
					first = false
					if d.Function.Arguments != nil {
						args.WriteString(*d.Function.Arguments)
					}
				}
			}
		}
		if first || !json.Valid([]byte(args.String())) || !strings.Contains(w.body.String(), `"finish_reason":"tool_calls"`) {
			t.Fatalf("openai stream → %s: arguments %q\n%s", model, args.String(), w.body.String())
		}

		// Anthropic, whole answer and streamed.
		w = e.do("POST", "/v1/messages", body(anBody, model, anTools))
		var m struct {
			Content []struct {
				Type  string
				Name  string
				Input json.RawMessage
			}
			StopReason string `json:"stop_reason"`
		}
		if err := json.Unmarshal(w.body.Bytes(), &m); err != nil || m.StopReason != "tool_use" {
			t.Fatalf("anthropic → %s: %s", model, w.body.String())
		}
		if last := m.Content[len(m.Content)-1]; last.Type != "tool_use" || last.Name != "get_weather" || len(last.Input) == 0 || last.Input[0] != '{' {
			t.Fatalf("anthropic → %s: %s", model, w.body.String())
		}
		w = e.do("POST", "/v1/messages", body(anBody, model, anTools+`,"stream":true`))
		out := w.body.String()
		if !strings.Contains(out, `"type":"tool_use"`) || !strings.Contains(out, "input_json_delta") || !strings.Contains(out, `"stop_reason":"tool_use"`) {
			t.Fatalf("anthropic stream → %s:\n%s", model, out)
		}
		var partial strings.Builder
		r := llm.NewSSEReader(strings.NewReader(out))
		for {
			_, data, err := r.Next()
			if err != nil {
				break
			}
			var ev struct {
				Delta struct {
					Type        string
					PartialJSON string `json:"partial_json"`
				}
			}
			json.Unmarshal(data, &ev)
			if ev.Delta.Type == "input_json_delta" {
				partial.WriteString(ev.Delta.PartialJSON)
			}
		}
		if !json.Valid([]byte(partial.String())) {
			t.Fatalf("anthropic stream → %s: partial_json fragments join to %q", model, partial.String())
		}
	}
}
