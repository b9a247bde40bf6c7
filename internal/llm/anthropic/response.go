package anthropic

import (
	"encoding/json"
	"fmt"

	"aya/internal/llm"
)

// stopReason maps a unified finish onto Anthropic's stop_reason.
func stopReason(finish, stopSeq string) string {
	switch finish {
	case llm.FinishLength:
		return "max_tokens"
	case llm.FinishToolCalls:
		return "tool_use"
	case llm.FinishContentFilter:
		return "refusal"
	}
	if stopSeq != "" {
		return "stop_sequence"
	}
	return "end_turn"
}

// finishReason maps Anthropic's stop_reason onto the unified finish.
func finishReason(stop string) string {
	switch stop {
	case "max_tokens", "model_context_window_exceeded":
		return llm.FinishLength
	case "tool_use":
		return llm.FinishToolCalls
	case "refusal":
		return llm.FinishContentFilter
	}
	return llm.FinishStop
}

// encodeUsage splits unified usage the way Anthropic reports it: input_tokens excludes the
// prompt tokens read from or written to the cache.
func encodeUsage(u llm.Usage) usage {
	return usage{
		InputTokens:              max(u.Input-u.CachedInput-u.CacheWrite, 0),
		CacheCreationInputTokens: u.CacheWrite,
		CacheReadInputTokens:     u.CachedInput,
		OutputTokens:             u.Output,
	}
}

func decodeUsage(u usage) llm.Usage {
	return llm.Usage{
		Input:       u.InputTokens + u.CacheCreationInputTokens + u.CacheReadInputTokens,
		Output:      u.OutputTokens,
		CachedInput: u.CacheReadInputTokens,
		CacheWrite:  u.CacheCreationInputTokens,
	}
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// EncodeResponse writes a whole answer as a Messages API message. stop_sequence is always
// present (null when no stop sequence ended the answer).
func EncodeResponse(r *llm.Response) []byte {
	mr := messageResponse{ID: r.ID, Type: "message", Role: "assistant", Model: r.Model, Content: []block{}}
	if r.Text != "" {
		t := r.Text
		mr.Content = append(mr.Content, block{Type: "text", Text: &t})
	}
	for _, tc := range r.ToolCalls {
		input := json.RawMessage(tc.Arguments)
		if !json.Valid(input) {
			input = json.RawMessage("{}")
		}
		mr.Content = append(mr.Content, block{Type: "tool_use", ID: tc.ID, Name: tc.Name, Input: input})
	}
	sr := stopReason(r.Finish, r.StopSequence)
	mr.StopReason = &sr
	mr.StopSequence = nullable(r.StopSequence)
	mr.Usage = encodeUsage(r.Usage)
	return mustJSON(&mr)
}

// DecodeResponse reads a provider's message.
func DecodeResponse(body []byte) (*llm.Response, error) {
	var mr messageResponse
	if err := json.Unmarshal(body, &mr); err != nil {
		return nil, fmt.Errorf("provider answer is not a message: %w", err)
	}
	r := &llm.Response{ID: mr.ID, Model: mr.Model, Usage: decodeUsage(mr.Usage)}
	for _, b := range mr.Content {
		switch b.Type {
		case "text":
			if b.Text != nil {
				r.Text += *b.Text
			}
		case "tool_use":
			r.ToolCalls = append(r.ToolCalls, llm.ToolCall{ID: b.ID, Name: b.Name, Arguments: string(b.Input)})
		}
	}
	if mr.StopReason != nil {
		r.Finish = finishReason(*mr.StopReason)
	}
	if mr.StopSequence != nil {
		r.StopSequence = *mr.StopSequence
	}
	return r, nil
}

var errorTypes = map[string]string{
	llm.ErrInvalidRequest: "invalid_request_error",
	llm.ErrAuthentication: "authentication_error",
	llm.ErrPermission:     "permission_error",
	llm.ErrNotFound:       "not_found_error",
	llm.ErrRequestTooBig:  "request_too_large",
	llm.ErrRateLimit:      "rate_limit_error",
	llm.ErrServer:         "api_error",
	llm.ErrOverloaded:     "overloaded_error",
	llm.ErrTimeout:        "timeout_error",
}

// EncodeError writes e as {"type":"error","error":{"type","message"}}.
func EncodeError(e *llm.Error) []byte {
	typ, ok := errorTypes[e.Type]
	if !ok {
		typ = "api_error"
	}
	return mustJSON(errorBody{Type: "error", Error: errorObject{Type: typ, Message: e.Message}})
}

// DecodeError reads a provider's error answer with its HTTP status.
func DecodeError(status int, body []byte) *llm.Error {
	e := &llm.Error{Status: status, Type: llm.TypeForStatus(status)}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error.Message != "" {
		e.Message = eb.Error.Message
		for k, v := range errorTypes {
			if v == eb.Error.Type {
				e.Type = k
			}
		}
		return e
	}
	e.Message = fmt.Sprintf("provider answered %d: %.200s", status, body)
	return e
}
