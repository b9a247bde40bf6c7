package anthropic

import (
	"bytes"
	"encoding/json"
	"strings"

	"aya/internal/llm"
)

// DecodeRequest parses a client's POST /v1/messages body.
func DecodeRequest(body []byte) (*llm.Request, *llm.Error) {
	var mr messagesRequest
	if err := json.Unmarshal(body, &mr); err != nil {
		return nil, invalid("the request body is not valid JSON for a message: %v", err)
	}
	if mr.Model == "" {
		return nil, invalid("model: field required")
	}
	if mr.MaxTokens <= 0 {
		return nil, invalid("max_tokens: field required (a number above 0)")
	}
	if len(mr.Messages) == 0 {
		return nil, invalid("messages: at least one message is required")
	}
	req := &llm.Request{
		Model:       mr.Model,
		MaxTokens:   mr.MaxTokens,
		Temperature: mr.Temperature,
		TopP:        mr.TopP,
		Stop:        mr.StopSequences,
		Stream:      mr.Stream,
		// Anthropic streams always carry usage; the flag only matters to OpenAI's codec.
		IncludeUsage: true,
	}
	if mr.Metadata != nil {
		req.User = mr.Metadata.UserID
	}
	if len(mr.System) > 0 {
		blocks, err := decodeBlocks(mr.System)
		if err != nil {
			return nil, invalid("system: %v", err)
		}
		var texts []string
		for _, b := range blocks {
			if b.Type == "text" && b.Text != nil {
				texts = append(texts, *b.Text)
			}
		}
		req.System = strings.Join(texts, "\n\n")
	}
	for i, m := range mr.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return nil, invalid("messages.%d.role: use user or assistant (the system prompt goes in system)", i)
		}
		blocks, err := decodeBlocks(m.Content)
		if err != nil {
			return nil, invalid("messages.%d.content: %v", i, err)
		}
		msgs, e := fromBlocks(m.Role, blocks, i)
		if e != nil {
			return nil, e
		}
		req.Messages = append(req.Messages, msgs...)
	}
	for _, t := range mr.Tools {
		req.Tools = append(req.Tools, llm.Tool{Name: t.Name, Description: t.Description, Parameters: t.InputSchema})
	}
	if tc := mr.ToolChoice; tc != nil {
		switch tc.Type {
		case "auto", "none":
			req.ToolChoice = &llm.ToolChoice{Mode: tc.Type}
		case "any":
			req.ToolChoice = &llm.ToolChoice{Mode: llm.ToolRequired}
		case "tool":
			req.ToolChoice = &llm.ToolChoice{Mode: llm.ToolForced, Name: tc.Name}
		default:
			return nil, invalid("tool_choice.type: use auto, any, tool or none")
		}
	}
	return req, nil
}

func invalid(format string, args ...any) *llm.Error {
	return llm.Errorf(400, llm.ErrInvalidRequest, format, args...)
}

// decodeBlocks reads content written as a string or as an array of blocks.
func decodeBlocks(raw json.RawMessage) ([]block, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []block{{Type: "text", Text: &s}}, nil
	}
	var bs []block
	if err := json.Unmarshal(raw, &bs); err != nil {
		return nil, errString("must be a string or an array of content blocks")
	}
	return bs, nil
}

type errString string

func (e errString) Error() string { return string(e) }

// fromBlocks turns one Anthropic message into unified messages: a user message's tool_result
// blocks become RoleTool messages (OpenAI's shape), in order around its other content.
func fromBlocks(role string, blocks []block, i int) ([]llm.Message, *llm.Error) {
	var out []llm.Message
	cur := llm.Message{Role: role}
	flush := func() {
		if len(cur.Content) > 0 || len(cur.ToolCalls) > 0 {
			out = append(out, cur)
		}
		cur = llm.Message{Role: role}
	}
	for j, b := range blocks {
		switch b.Type {
		case "text":
			if b.Text != nil {
				cur.Content = append(cur.Content, llm.Part{Type: llm.PartText, Text: *b.Text})
			}
		case "image":
			if b.Source == nil {
				return nil, invalid("messages.%d.content.%d.source: field required", i, j)
			}
			if b.Source.Type == "url" {
				cur.Content = append(cur.Content, llm.Part{Type: llm.PartImage, URL: b.Source.URL})
			} else {
				cur.Content = append(cur.Content, llm.Part{Type: llm.PartImage, MediaType: b.Source.MediaType, Data: b.Source.Data})
			}
		case "tool_use":
			if role != "assistant" {
				return nil, invalid("messages.%d.content.%d: tool_use blocks belong in assistant messages", i, j)
			}
			args := "{}"
			if len(b.Input) > 0 {
				args = string(b.Input)
			}
			cur.ToolCalls = append(cur.ToolCalls, llm.ToolCall{ID: b.ID, Name: b.Name, Arguments: args})
		case "tool_result":
			flush()
			inner, err := decodeBlocks(b.Content)
			if err != nil {
				return nil, invalid("messages.%d.content.%d.content: %v", i, j, err)
			}
			tm := llm.Message{Role: llm.RoleTool, ToolCallID: b.ToolUseID, IsError: b.IsError}
			for _, ib := range inner {
				if ib.Type == "text" && ib.Text != nil {
					tm.Content = append(tm.Content, llm.Part{Type: llm.PartText, Text: *ib.Text})
				}
			}
			out = append(out, tm)
		case "thinking", "redacted_thinking":
			// Reasoning blocks only mean something to the model that wrote them.
		default:
			return nil, invalid("messages.%d.content.%d.type: unsupported block type %q", i, j, b.Type)
		}
	}
	flush()
	return out, nil
}

// EncodeRequest writes req as a Messages API request for model. Anthropic requires
// max_tokens: defaultMaxTokens is used when the client gave none. Tool results become user
// tool_result blocks, and consecutive messages of one role are merged, since the API demands
// strict user/assistant alternation.
func EncodeRequest(req *llm.Request, model string, defaultMaxTokens int) ([]byte, error) {
	mr := messagesRequest{
		Model:         model,
		MaxTokens:     req.MaxTokens,
		Temperature:   req.Temperature,
		TopP:          req.TopP,
		StopSequences: req.Stop,
		Stream:        req.Stream,
	}
	if mr.MaxTokens <= 0 {
		mr.MaxTokens = defaultMaxTokens
	}
	system := req.System
	if rf := req.ResponseFormat; rf != nil && rf.Type != "text" {
		// The Messages API has no JSON mode; the instruction is the documented way to ask.
		hint := "Answer with a single JSON object and nothing else."
		if len(rf.Schema) > 0 {
			hint += " It must match this JSON schema: " + string(rf.Schema)
		}
		system = strings.TrimSpace(system + "\n\n" + hint)
	}
	if system != "" {
		mr.System = mustJSON(system)
	}
	if req.User != "" {
		mr.Metadata = &metadata{UserID: req.User}
	}
	type turn struct {
		role   string
		blocks []block
	}
	var turns []turn
	for _, m := range req.Messages {
		role, blocks := toBlocks(m)
		if len(blocks) == 0 {
			continue
		}
		if n := len(turns); n > 0 && turns[n-1].role == role {
			turns[n-1].blocks = append(turns[n-1].blocks, blocks...)
			continue
		}
		turns = append(turns, turn{role, blocks})
	}
	for _, t := range turns {
		mr.Messages = append(mr.Messages, message{Role: t.role, Content: mustJSON(t.blocks)})
	}
	for _, t := range req.Tools {
		schema := t.Parameters
		if len(schema) == 0 {
			schema = json.RawMessage(`{"type":"object","properties":{}}`)
		}
		mr.Tools = append(mr.Tools, tool{Name: t.Name, Description: t.Description, InputSchema: schema})
	}
	if tc := req.ToolChoice; tc != nil && len(req.Tools) > 0 {
		switch tc.Mode {
		case llm.ToolRequired:
			mr.ToolChoice = &toolChoice{Type: "any"}
		case llm.ToolForced:
			mr.ToolChoice = &toolChoice{Type: "tool", Name: tc.Name}
		default:
			mr.ToolChoice = &toolChoice{Type: tc.Mode}
		}
	}
	return json.Marshal(&mr)
}

func toBlocks(m llm.Message) (string, []block) {
	if m.Role == llm.RoleTool {
		text := llm.JoinText(m.Content)
		return "user", []block{{Type: "tool_result", ToolUseID: m.ToolCallID, Content: mustJSON(text), IsError: m.IsError}}
	}
	var bs []block
	for _, p := range m.Content {
		switch p.Type {
		case llm.PartText:
			if p.Text == "" {
				continue // the API rejects empty text blocks
			}
			t := p.Text
			bs = append(bs, block{Type: "text", Text: &t})
		case llm.PartImage:
			if p.URL != "" {
				bs = append(bs, block{Type: "image", Source: &imageSource{Type: "url", URL: p.URL}})
			} else {
				bs = append(bs, block{Type: "image", Source: &imageSource{Type: "base64", MediaType: p.MediaType, Data: p.Data}})
			}
		}
	}
	for _, tc := range m.ToolCalls {
		input := json.RawMessage(tc.Arguments)
		if !json.Valid(input) || len(bytes.TrimSpace(input)) == 0 {
			input = json.RawMessage("{}")
		}
		bs = append(bs, block{Type: "tool_use", ID: tc.ID, Name: tc.Name, Input: input})
	}
	return m.Role, bs
}
