package openai

import (
	"encoding/json"
	"fmt"
	"strconv"

	"aya/internal/llm"
)

// EncodeResponse writes a whole answer as a chat.completion object.
func EncodeResponse(r *llm.Response, created int64) []byte {
	if len(r.ToolCalls) == 0 {
		return encodeTextResponse(r, created)
	}
	return encodeResponseJSON(r, created)
}

// encodeTextResponse writes an answer without tool calls — most answers — by hand, byte for
// byte as encodeResponseJSON writes it.
func encodeTextResponse(r *llm.Response, created int64) []byte {
	b := make([]byte, 0, 384+len(r.Text))
	b = append(b, `{"id":`...)
	b = llm.AppendJSONString(b, r.ID)
	b = append(b, `,"object":"chat.completion","created":`...)
	b = strconv.AppendInt(b, created, 10)
	b = append(b, `,"model":`...)
	b = llm.AppendJSONString(b, r.Model)
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":`...)
	b = llm.AppendJSONString(b, r.Text)
	b = append(b, `,"refusal":null},"finish_reason":`...)
	b = llm.AppendJSONString(b, finishOr(r.Finish))
	b = append(b, `,"logprobs":null}],"usage":{"prompt_tokens":`...)
	u := r.Usage
	b = strconv.AppendInt(b, int64(u.Input), 10)
	b = append(b, `,"completion_tokens":`...)
	b = strconv.AppendInt(b, int64(u.Output), 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, int64(u.Total()), 10)
	b = append(b, `,"prompt_tokens_details":{"cached_tokens":`...)
	b = strconv.AppendInt(b, int64(u.CachedInput), 10)
	b = append(b, `},"completion_tokens_details":{"reasoning_tokens":`...)
	b = strconv.AppendInt(b, int64(u.Reasoning), 10)
	return append(b, `}},"system_fingerprint":null}`...)
}

func encodeResponseJSON(r *llm.Response, created int64) []byte {
	msg := respMessage{Role: "assistant"}
	if r.Text != "" || len(r.ToolCalls) == 0 {
		t := r.Text
		msg.Content = &t
	}
	for _, tc := range r.ToolCalls {
		args := tc.Arguments
		msg.ToolCalls = append(msg.ToolCalls, toolCall{ID: tc.ID, Type: "function", Function: functionCall{Name: tc.Name, Arguments: &args}})
	}
	u := encodeUsage(r.Usage)
	cr := chatResponse{
		ID:      r.ID,
		Object:  "chat.completion",
		Created: created,
		Model:   r.Model,
		Choices: []choice{{Message: msg, FinishReason: finishOr(r.Finish), Logprobs: jsonNull}},
		Usage:   &u,
	}
	return mustJSON(&cr)
}

func finishOr(f string) string {
	if f == "" {
		return llm.FinishStop
	}
	return f
}

func encodeUsage(u llm.Usage) usage {
	return usage{
		PromptTokens:            u.Input,
		CompletionTokens:        u.Output,
		TotalTokens:             u.Total(),
		PromptTokensDetails:     &promptDetail{CachedTokens: u.CachedInput},
		CompletionTokensDetails: &complDetail{ReasoningTokens: u.Reasoning},
	}
}

func decodeUsage(u *usage) llm.Usage {
	out := llm.Usage{Input: u.PromptTokens, Output: u.CompletionTokens}
	if d := u.PromptTokensDetails; d != nil {
		out.CachedInput = d.CachedTokens
	}
	if d := u.CompletionTokensDetails; d != nil {
		out.Reasoning = d.ReasoningTokens
	}
	return out
}

// DecodeResponse reads a provider's chat.completion.
func DecodeResponse(body []byte) (*llm.Response, error) {
	var cr chatResponse
	if !scanResponse(body, &cr) {
		cr = chatResponse{}
		if err := json.Unmarshal(body, &cr); err != nil {
			return nil, fmt.Errorf("provider answer is not a chat completion: %w", err)
		}
	}
	if len(cr.Choices) == 0 {
		return nil, fmt.Errorf("provider answer has no choices")
	}
	c := cr.Choices[0]
	r := &llm.Response{ID: cr.ID, Model: cr.Model, Finish: c.FinishReason}
	if c.Message.Content != nil {
		r.Text = *c.Message.Content
	}
	for _, tc := range c.Message.ToolCalls {
		args := ""
		if tc.Function.Arguments != nil {
			args = *tc.Function.Arguments
		}
		r.ToolCalls = append(r.ToolCalls, llm.ToolCall{ID: tc.ID, Name: tc.Function.Name, Arguments: args})
	}
	if cr.Usage != nil {
		r.Usage = decodeUsage(cr.Usage)
	}
	return r, nil
}

// errorTypes spells llm error types the way OpenAI does.
var errorTypes = map[string]string{
	llm.ErrInvalidRequest: "invalid_request_error",
	llm.ErrAuthentication: "authentication_error",
	llm.ErrPermission:     "permission_error",
	llm.ErrNotFound:       "invalid_request_error",
	llm.ErrRequestTooBig:  "invalid_request_error",
	llm.ErrRateLimit:      "rate_limit_error",
	llm.ErrServer:         "server_error",
	llm.ErrOverloaded:     "server_error",
	llm.ErrTimeout:        "timeout_error",
}

// EncodeError writes e as {"error":{"message","type","param","code"}}; param and code are
// always present (null when unknown), as OpenAI's SDKs expect.
func EncodeError(e *llm.Error) []byte {
	typ, ok := errorTypes[e.Type]
	if !ok {
		typ = "server_error"
	}
	eo := errorObject{Message: e.Message, Type: typ}
	if e.Param != "" {
		eo.Param = &e.Param
	}
	code := e.Code
	if code == "" {
		code = defaultCode(e.Type)
	}
	if code != "" {
		eo.Code = &code
	}
	return mustJSON(errorBody{Error: eo})
}

func defaultCode(typ string) string {
	switch typ {
	case llm.ErrNotFound:
		return "model_not_found"
	case llm.ErrAuthentication:
		return "invalid_api_key"
	case llm.ErrRateLimit:
		return "rate_limit_exceeded"
	case llm.ErrOverloaded:
		return "overloaded"
	}
	return ""
}

// DecodeError reads a provider's error answer with its HTTP status. A body that is not
// OpenAI's error shape still yields an error of the status's type.
func DecodeError(status int, body []byte) *llm.Error {
	e := &llm.Error{Status: status, Type: llm.TypeForStatus(status)}
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error.Message != "" {
		e.Message = eb.Error.Message
		if eb.Error.Code != nil {
			e.Code = *eb.Error.Code
		}
		if eb.Error.Param != nil {
			e.Param = *eb.Error.Param
		}
		return e
	}
	e.Message = fmt.Sprintf("provider answered %d: %.200s", status, body)
	return e
}
