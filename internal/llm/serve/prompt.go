package serve

import (
	"bytes"
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strings"

	"aya/internal/httpx"
	"aya/internal/llm"
	"aya/internal/llm/openai"
)

// Prompt is a prompt template served as a REST endpoint: POST Path with a JSON object of the
// template's fields; the filled template goes to Model like any chat call (keys, limits,
// routing, cache, budget, call log) and the answer comes back as JSON.
type Prompt struct {
	Name, Path, Model string
	// System and Template are the system prompt and the user message; {{field}} is replaced by
	// the input's field (strings as they are, other values as JSON, absent ones by nothing).
	System, Template string
	Schema           *InputSchema // nil: any object
	// JSON asks the model for a JSON object (JSON mode) and answers with it; otherwise the
	// answer is {"text": "..."}.
	JSON        bool
	MaxTokens   int
	Temperature *float64
}

// InputSchema is the JSON Schema subset a prompt's input is checked against.
type InputSchema struct {
	Required []string
	// Properties maps a field to its JSON type: string, integer, number, boolean, object or
	// array. Other fields are accepted as they are.
	Properties map[string]string
}

// SetPrompts serves ps at their paths. Call it before the handler serves.
func (h *Handler) SetPrompts(ps []*Prompt) {
	h.prompts = make(map[string]*Prompt, len(ps))
	for _, p := range ps {
		h.prompts[p.Path] = p
	}
}

var placeholder = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_]+)\s*\}\}`)

// render fills tmpl from in.
func render(tmpl string, in map[string]any) string {
	return placeholder.ReplaceAllStringFunc(tmpl, func(m string) string {
		switch v := in[placeholder.FindStringSubmatch(m)[1]].(type) {
		case nil:
			return ""
		case string:
			return v
		case json.Number:
			return v.String()
		default:
			b, _ := json.Marshal(v) // decoded JSON always marshals
			return string(b)
		}
	})
}

// check validates in against s; the error names the field, in OpenAI's param.
func (s *InputSchema) check(in map[string]any) *llm.Error {
	bad := func(field, format string, args ...any) *llm.Error {
		e := llm.Errorf(400, llm.ErrInvalidRequest, "field %q: "+format, append([]any{field}, args...)...)
		e.Param, e.Code = field, "invalid_input"
		return e
	}
	for _, f := range s.Required {
		if _, ok := in[f]; !ok {
			return bad(f, "is required")
		}
	}
	for _, f := range sortedFieldNames(s.Properties) {
		v, ok := in[f]
		if !ok {
			continue
		}
		if want := s.Properties[f]; !isType(v, want) {
			return bad(f, "want %s %s, got %s", article(want), want, jsonType(v))
		}
	}
	return nil
}

func sortedFieldNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out) // the first bad field in name order: the same error every time
	return out
}

func isType(v any, want string) bool {
	switch want {
	case "integer":
		n, ok := v.(json.Number)
		if !ok {
			return false
		}
		if _, err := n.Int64(); err == nil {
			return true
		}
		f, err := n.Float64()
		return err == nil && f == math.Trunc(f) // JSON Schema: 3.0 is an integer
	default:
		return jsonType(v) == want
	}
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	}
	return "unknown"
}

func article(t string) string {
	if strings.ContainsAny(t[:1], "aeiou") {
		return "an"
	}
	return "a"
}

// prompt answers a prompt endpoint.
func (h *Handler) prompt(w httpx.ResponseWriter, r *httpx.Request, p *Prompt) {
	a := api{name: "prompt", encodeErr: openai.EncodeError, notFound: openaiNotFound, encode: p.encode}
	key, c, body, ok := h.accept(w, r, a)
	if !ok {
		return
	}
	var in map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil || in == nil || dec.More() {
		h.failCall(w, a, c, llm.Errorf(400, llm.ErrInvalidRequest, "the body must be one JSON object of the prompt's fields, like {\"text\": \"...\"}"))
		return
	}
	if p.Schema != nil {
		if e := p.Schema.check(in); e != nil {
			h.failCall(w, a, c, e)
			return
		}
	}
	req := &llm.Request{Model: p.Model, System: render(p.System, in), MaxTokens: p.MaxTokens, Temperature: p.Temperature,
		Messages: []llm.Message{{Role: llm.RoleUser, Content: []llm.Part{{Type: llm.PartText, Text: render(p.Template, in)}}}}}
	if p.JSON {
		req.ResponseFormat = &llm.ResponseFormat{Type: "json_object"}
	}
	h.complete(w, r, a, c, key, req)
}

// encode is the endpoint's answer: the model's JSON object, or {"text": ...}.
func (p *Prompt) encode(resp *llm.Response, _ int64) ([]byte, *llm.Error) {
	if !p.JSON {
		b, _ := json.Marshal(struct {
			Text string `json:"text"`
		}{resp.Text})
		return b, nil
	}
	text := strings.TrimSpace(resp.Text)
	// Models often fence JSON in markdown even in JSON mode.
	if t, ok := strings.CutPrefix(text, "```json"); ok {
		text = strings.TrimSpace(strings.TrimSuffix(t, "```"))
	} else if t, ok := strings.CutPrefix(text, "```"); ok {
		text = strings.TrimSpace(strings.TrimSuffix(t, "```"))
	}
	var b bytes.Buffer
	if !json.Valid([]byte(text)) || json.Compact(&b, []byte(text)) != nil {
		snippet := text
		if len(snippet) > 200 {
			snippet = snippet[:200] + "…"
		}
		return nil, llm.Errorf(502, llm.ErrServer, "prompt %s: model %s answered text that is not JSON (%q): tighten the template, or use output: text", p.Name, p.Model, snippet)
	}
	return b.Bytes(), nil
}
