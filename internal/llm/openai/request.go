package openai

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"aya/internal/llm"
)

// DecodeRequest parses a client's POST /v1/chat/completions body. Errors are 400s in the
// shape the client's SDK reports, naming the field at fault.
func DecodeRequest(body []byte) (*llm.Request, *llm.Error) {
	var cr chatRequest
	if !scanRequest(body, &cr) {
		cr = chatRequest{}
		if err := json.Unmarshal(body, &cr); err != nil {
			return nil, invalid("", "the request body is not valid JSON for a chat completion: %v", err)
		}
	}
	if cr.Model == "" {
		return nil, invalid("model", "you must provide a model parameter")
	}
	if len(cr.Messages) == 0 {
		return nil, invalid("messages", "messages must contain at least one message")
	}
	if cr.N != nil && *cr.N != 1 {
		return nil, invalid("n", "aya supports n=1 only: send one request per choice")
	}
	req := &llm.Request{
		Model:       cr.Model,
		Temperature: cr.Temperature,
		TopP:        cr.TopP,
		Seed:        cr.Seed,
		Stream:      cr.Stream,
		User:        cr.User,
	}
	if cr.StreamOptions != nil {
		req.IncludeUsage = cr.StreamOptions.IncludeUsage
	}
	switch {
	case cr.MaxCompletionTokens != nil:
		req.MaxTokens = *cr.MaxCompletionTokens
	case cr.MaxTokens != nil:
		req.MaxTokens = *cr.MaxTokens
	}
	if req.MaxTokens < 0 {
		return nil, invalid("max_tokens", "max_tokens must not be negative")
	}
	var system []string
	for i, m := range cr.Messages {
		parts, err := decodeContent(m.Content)
		if err != nil {
			return nil, invalid("messages["+itoa(i)+"].content", "%v", err)
		}
		switch m.Role {
		case "system", "developer":
			system = append(system, llm.JoinText(parts))
		case "user":
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleUser, Content: parts})
		case "assistant":
			msg := llm.Message{Role: llm.RoleAssistant, Content: parts}
			for _, tc := range m.ToolCalls {
				args := ""
				if tc.Function.Arguments != nil {
					args = *tc.Function.Arguments
				}
				msg.ToolCalls = append(msg.ToolCalls, llm.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: args})
			}
			req.Messages = append(req.Messages, msg)
		case "tool":
			if m.ToolCallID == "" {
				return nil, invalid("messages["+itoa(i)+"].tool_call_id", "a tool message needs the tool_call_id of the call it answers")
			}
			req.Messages = append(req.Messages, llm.Message{Role: llm.RoleTool, Content: parts, ToolCallID: m.ToolCallID})
		default:
			return nil, invalid("messages["+itoa(i)+"].role", "unknown role %q: use system, developer, user, assistant or tool", m.Role)
		}
	}
	req.System = strings.Join(system, "\n\n")
	for i, t := range cr.Tools {
		if t.Type != "function" || t.Function.Name == "" {
			return nil, invalid("tools["+itoa(i)+"]", "each tool must be {\"type\":\"function\",\"function\":{\"name\":...}}")
		}
		req.Tools = append(req.Tools, llm.Tool{Name: t.Function.Name, Description: t.Function.Description, Parameters: t.Function.Parameters})
	}
	if len(cr.ToolChoice) > 0 {
		tc, err := decodeToolChoice(cr.ToolChoice)
		if err != nil {
			return nil, invalid("tool_choice", "%v", err)
		}
		req.ToolChoice = tc
	}
	if len(cr.Stop) > 0 {
		stop, err := decodeStop(cr.Stop)
		if err != nil {
			return nil, invalid("stop", "%v", err)
		}
		req.Stop = stop
	}
	if rf := cr.ResponseFormat; rf != nil {
		switch rf.Type {
		case "text":
		case "json_object":
			req.ResponseFormat = &llm.ResponseFormat{Type: rf.Type}
		case "json_schema":
			if rf.JSONSchema == nil {
				return nil, invalid("response_format.json_schema", "json_schema is required when type is json_schema")
			}
			req.ResponseFormat = &llm.ResponseFormat{Type: rf.Type, Name: rf.JSONSchema.Name, Schema: rf.JSONSchema.Schema, Strict: rf.JSONSchema.Strict}
		default:
			return nil, invalid("response_format.type", "unknown response_format type %q: use text, json_object or json_schema", rf.Type)
		}
	}
	return req, nil
}

func invalid(param, format string, args ...any) *llm.Error {
	e := llm.Errorf(400, llm.ErrInvalidRequest, format, args...)
	e.Param = param
	return e
}

func itoa(i int) string { return strconv.Itoa(i) }

func decodeContent(raw json.RawMessage) ([]llm.Part, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []llm.Part{{Type: llm.PartText, Text: s}}, nil
	}
	var cps []contentPart
	if err := json.Unmarshal(raw, &cps); err != nil {
		return nil, errString("content must be a string or an array of parts")
	}
	parts := make([]llm.Part, 0, len(cps))
	for _, cp := range cps {
		switch cp.Type {
		case "text":
			parts = append(parts, llm.Part{Type: llm.PartText, Text: cp.Text})
		case "image_url":
			if cp.ImageURL == nil || cp.ImageURL.URL == "" {
				return nil, errString("an image_url part needs image_url.url")
			}
			parts = append(parts, imagePart(cp.ImageURL.URL))
		default:
			return nil, errString("unsupported content part type " + cp.Type + ": use text or image_url")
		}
	}
	return parts, nil
}

// imagePart splits a data: URL into media type and base64 data, so providers that want them
// apart (Anthropic, Gemini) need not parse URLs.
func imagePart(url string) llm.Part {
	if rest, ok := strings.CutPrefix(url, "data:"); ok {
		if meta, data, ok := strings.Cut(rest, ","); ok {
			if mt, ok := strings.CutSuffix(meta, ";base64"); ok {
				return llm.Part{Type: llm.PartImage, MediaType: mt, Data: data}
			}
		}
	}
	return llm.Part{Type: llm.PartImage, URL: url}
}

func imageURLOf(p llm.Part) string {
	if p.URL != "" {
		return p.URL
	}
	return "data:" + p.MediaType + ";base64," + p.Data
}

type errString string

func (e errString) Error() string { return string(e) }

func decodeToolChoice(raw json.RawMessage) (*llm.ToolChoice, error) {
	if raw[0] == '"' {
		var s string
		_ = json.Unmarshal(raw, &s)
		switch s {
		case "auto", "none", "required":
			return &llm.ToolChoice{Mode: s}, nil
		}
		return nil, errString("tool_choice must be auto, none, required or {\"type\":\"function\",\"function\":{\"name\":...}}")
	}
	var tc struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(raw, &tc); err != nil || tc.Type != "function" || tc.Function.Name == "" {
		return nil, errString("tool_choice object must be {\"type\":\"function\",\"function\":{\"name\":...}}")
	}
	return &llm.ToolChoice{Mode: llm.ToolForced, Name: tc.Function.Name}, nil
}

func decodeStop(raw json.RawMessage) ([]string, error) {
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []string{s}, nil
	case 'n':
		return nil, nil
	}
	var ss []string
	if err := json.Unmarshal(raw, &ss); err != nil {
		return nil, errString("stop must be a string or an array of strings")
	}
	return ss, nil
}

// EncodeRequest writes req as a Chat Completions request for model at an OpenAI or
// OpenAI-compatible provider. Streams always ask for usage (include_usage): aya accounts every
// token, and the ingress codec drops the usage chunk when the client did not ask for it.
func EncodeRequest(req *llm.Request, model string) ([]byte, error) {
	cr := wireRequest(req, model)
	if b, ok := appendRequest(make([]byte, 0, 256+len(req.System)), &cr); ok {
		return b, nil
	}
	return json.Marshal(&cr)
}

// wireRequest is req in the chat request's wire shape.
func wireRequest(req *llm.Request, model string) chatRequest {
	cr := chatRequest{
		Model:       model,
		Temperature: req.Temperature,
		TopP:        req.TopP,
		Seed:        req.Seed,
		Stream:      req.Stream,
		User:        req.User,
	}
	if req.Stream {
		cr.StreamOptions = &streamOptions{IncludeUsage: true}
	}
	if req.MaxTokens > 0 {
		cr.MaxTokens = &req.MaxTokens
	}
	if req.System != "" {
		cr.Messages = append(cr.Messages, message{Role: "system", Content: llm.AppendJSONString(nil, req.System)})
	}
	for _, m := range req.Messages {
		cr.Messages = append(cr.Messages, encodeMessage(m))
	}
	for _, t := range req.Tools {
		cr.Tools = append(cr.Tools, tool{Type: "function", Function: function{Name: t.Name, Description: t.Description, Parameters: t.Parameters}})
	}
	if tc := req.ToolChoice; tc != nil {
		if tc.Mode == llm.ToolForced {
			cr.ToolChoice = mustJSON(map[string]any{"type": "function", "function": map[string]string{"name": tc.Name}})
		} else {
			cr.ToolChoice = mustJSON(tc.Mode)
		}
	}
	if len(req.Stop) > 0 {
		cr.Stop = mustJSON(req.Stop)
	}
	if rf := req.ResponseFormat; rf != nil {
		cr.ResponseFormat = &responseFormat{Type: rf.Type}
		if rf.Type == "json_schema" {
			cr.ResponseFormat.JSONSchema = &jsonSchema{Name: rf.Name, Schema: rf.Schema, Strict: rf.Strict}
		}
	}
	return cr
}

func encodeMessage(m llm.Message) message {
	out := message{Role: m.Role, ToolCallID: m.ToolCallID}
	if m.Role == llm.RoleTool {
		out.Content = llm.AppendJSONString(nil, llm.JoinText(m.Content))
		return out
	}
	out.Content = encodeContent(m.Content)
	if len(out.Content) == 0 && m.Role == llm.RoleAssistant {
		out.Content = jsonNull
	}
	for _, tc := range m.ToolCalls {
		args := tc.Arguments
		if args == "" {
			args = "{}"
		}
		out.ToolCalls = append(out.ToolCalls, toolCall{ID: tc.ID, Type: "function", Function: functionCall{Name: tc.Name, Arguments: &args}})
	}
	return out
}

// encodeContent writes text-only content as a string (every OpenAI-compatible server reads
// that) and mixed content as parts.
func encodeContent(parts []llm.Part) json.RawMessage {
	if len(parts) == 0 {
		return nil
	}
	textOnly := true
	for _, p := range parts {
		textOnly = textOnly && p.Type == llm.PartText
	}
	if textOnly {
		return llm.AppendJSONString(nil, llm.JoinText(parts))
	}
	cps := make([]contentPart, 0, len(parts))
	for _, p := range parts {
		if p.Type == llm.PartImage {
			cps = append(cps, contentPart{Type: "image_url", ImageURL: &imageURL{URL: imageURLOf(p)}})
		} else {
			cps = append(cps, contentPart{Type: "text", Text: p.Text})
		}
	}
	return mustJSON(cps)
}

// mustJSON marshals values that cannot fail to marshal (strings, slices of plain structs).
func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic("openai: marshal: " + err.Error())
	}
	return b
}
