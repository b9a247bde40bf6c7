package llmdemo

import (
	"encoding/json"
	"fmt"
	"net/http"
)

type oaChatRequest struct {
	Model               string          `json:"model"`
	Messages            []oaMessage     `json:"messages"`
	Tools               []oaTool        `json:"tools"`
	ToolChoice          json.RawMessage `json:"tool_choice"`
	ResponseFormat      *oaFormat       `json:"response_format"`
	Stop                json.RawMessage `json:"stop"`
	MaxTokens           int             `json:"max_tokens"`
	MaxCompletionTokens int             `json:"max_completion_tokens"`
	Stream              bool            `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
	Seed *int64 `json:"seed"`
	N    *int   `json:"n"`
}

type oaMessage struct {
	Role       string          `json:"role"`
	Content    json.RawMessage `json:"content"`
	ToolCalls  []oaToolCall    `json:"tool_calls"`
	ToolCallID string          `json:"tool_call_id"`
}

type oaToolCall struct {
	Index    *int   `json:"index,omitempty"`
	ID       string `json:"id,omitempty"`
	Type     string `json:"type,omitempty"`
	Function struct {
		Name      string `json:"name,omitempty"`
		Arguments string `json:"arguments"`
	} `json:"function"`
}

type oaTool struct {
	Type     string `json:"type"`
	Function struct {
		Name        string         `json:"name"`
		Description string         `json:"description"`
		Parameters  map[string]any `json:"parameters"`
	} `json:"function"`
}

type oaFormat struct {
	Type       string `json:"type"`
	JSONSchema *struct {
		Schema map[string]any `json:"schema"`
	} `json:"json_schema"`
}

// badParam is a 400 naming the offending parameter, as OpenAI does.
type badParam struct {
	param, msg string
}

func (e *badParam) Error() string { return e.msg }

// genRequest turns the chat request into the common generation request.
func (q *oaChatRequest) genRequest() (*genRequest, error) {
	if len(q.Messages) == 0 {
		return nil, &badParam{"messages", "[] is too short - 'messages'"}
	}
	if q.N != nil && *q.N != 1 {
		return nil, &badParam{"n", "this local provider serves n=1 only"}
	}
	g := &genRequest{model: q.Model, maxTokens: q.MaxTokens}
	if q.MaxCompletionTokens > 0 {
		g.maxTokens = q.MaxCompletionTokens
	}
	if q.Seed != nil {
		g.seed = *q.Seed
	}
	stops, err := stringOrList(q.Stop)
	if err != nil {
		return nil, &badParam{"stop", "Invalid 'stop': " + err.Error()}
	}
	g.stops = stops
	for _, m := range q.Messages {
		g.texts = append(g.texts, rawText(m.Content)...)
		for _, tc := range m.ToolCalls {
			g.texts = append(g.texts, tc.Function.Name, tc.Function.Arguments)
		}
	}
	for _, t := range q.Tools {
		g.texts = append(g.texts, schemaText(t.Function.Name, t.Function.Description, t.Function.Parameters)...)
	}
	if f := q.ResponseFormat; f != nil {
		switch f.Type {
		case "json_object":
			g.json = true
		case "json_schema":
			if f.JSONSchema == nil || f.JSONSchema.Schema == nil {
				return nil, &badParam{"response_format.json_schema", "Missing required parameter: 'response_format.json_schema'."}
			}
			g.json, g.schema = true, f.JSONSchema.Schema
		}
	}
	tool, err := q.pickTool()
	if err != nil {
		return nil, err
	}
	g.tool = tool
	return g, nil
}

// pickTool decides whether to answer with a tool call: a forced function or "required" always
// does; "auto" (or no tool_choice) calls the first tool unless the last message is a tool result,
// so a tool loop ends with a text answer; "none" never does.
func (q *oaChatRequest) pickTool() (*toolSpec, error) {
	if len(q.Tools) == 0 {
		return nil, nil
	}
	spec := func(t oaTool) *toolSpec { return &toolSpec{name: t.Function.Name, schema: t.Function.Parameters} }
	choice := "auto"
	if len(q.ToolChoice) > 0 && string(q.ToolChoice) != "null" {
		if json.Unmarshal(q.ToolChoice, &choice) != nil {
			var forced struct {
				Function struct {
					Name string `json:"name"`
				} `json:"function"`
			}
			if err := json.Unmarshal(q.ToolChoice, &forced); err != nil {
				return nil, &badParam{"tool_choice", "Invalid 'tool_choice': " + err.Error()}
			}
			for _, t := range q.Tools {
				if t.Function.Name == forced.Function.Name {
					return spec(t), nil
				}
			}
			return nil, &badParam{"tool_choice", fmt.Sprintf("Invalid value for 'tool_choice': function %q is not among the tools.", forced.Function.Name)}
		}
	}
	switch choice {
	case "none":
		return nil, nil
	case "required":
		return spec(q.Tools[0]), nil
	case "auto":
		if q.Messages[len(q.Messages)-1].Role == "tool" {
			return nil, nil
		}
		return spec(q.Tools[0]), nil
	}
	return nil, &badParam{"tool_choice", fmt.Sprintf("Invalid value for 'tool_choice': %q.", choice)}
}

type oaUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
		AudioTokens  int `json:"audio_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens          int `json:"reasoning_tokens"`
		AudioTokens              int `json:"audio_tokens"`
		AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
		RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
	} `json:"completion_tokens_details"`
}

func (g *generation) openAIUsage() *oaUsage {
	return &oaUsage{PromptTokens: g.promptTokens, CompletionTokens: g.outputTokens(), TotalTokens: g.promptTokens + g.outputTokens()}
}

func (g *generation) openAIFinish() string {
	switch g.finish {
	case finishLength:
		return "length"
	case finishToolCall:
		return "tool_calls"
	}
	return "stop"
}

func (s *Server) openAIChat(w http.ResponseWriter, r *http.Request) {
	if !s.openAIPreamble(w, r) {
		return
	}
	var q oaChatRequest
	if err := readJSON(r, &q); err != nil {
		openAIError(w, http.StatusBadRequest, "We could not parse the JSON body of your request. ("+err.Error()+")", "invalid_request_error", nil, nil)
		return
	}
	if q.Model == "" {
		openAIError(w, http.StatusBadRequest, "you must provide a model parameter", "invalid_request_error", nil, nil)
		return
	}
	if !s.serves(q.Model) {
		openAIModelNotFound(w, q.Model)
		return
	}
	gq, err := q.genRequest()
	if err != nil {
		bp, _ := err.(*badParam)
		openAIError(w, http.StatusBadRequest, bp.msg, "invalid_request_error", bp.param, nil)
		return
	}
	if prompt, over := s.tooLong(gq); over {
		openAIError(w, http.StatusBadRequest, fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d tokens (%d in the messages, %d in the completion). Please reduce the length of the messages or completion.",
			s.opt.ContextWindow, prompt+gq.maxTokens, prompt, gq.maxTokens), "invalid_request_error", "messages", "context_length_exceeded")
		return
	}
	lim, f := s.admit(callerKey(r), gq.promptTokens())
	setOpenAILimits(w.Header(), lim)
	if f != nil {
		openAIRefuse(w, f)
		return
	}
	if s.blocked(gq) {
		openAIPolicyRefusal(w)
		return
	}
	g := s.generate(gq)
	end, err := s.begin(r.Context(), callerKey(r), g.promptTokens+g.outputTokens())
	if err != nil {
		return
	}
	defer end(g.outputTokens())
	if q.Stream {
		s.openAIStream(w, r, &q, g)
		return
	}
	if sleep(r.Context(), s.wholeDelay(g.outputTokens())) != nil {
		return
	}
	msg := map[string]any{"role": "assistant", "content": nil, "refusal": nil, "annotations": []any{}}
	if g.toolName != "" {
		msg["tool_calls"] = []map[string]any{{
			"id": s.newID("call_"), "type": "function",
			"function": map[string]string{"name": g.toolName, "arguments": g.text()},
		}}
	} else {
		msg["content"] = g.text()
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": s.newID("chatcmpl-"), "object": "chat.completion", "created": unix(), "model": q.Model,
		"choices": []map[string]any{{"index": 0, "message": msg, "logprobs": nil, "finish_reason": g.openAIFinish()}},
		"usage":   g.openAIUsage(), "service_tier": "default", "system_fingerprint": "fp_" + s.opt.Name,
	})
}

// oaChunk is one chat.completion.chunk; Usage is the literal null on every chunk but the last
// when the client asked for include_usage, and absent otherwise.
type oaChunk struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	Created           int64           `json:"created"`
	Model             string          `json:"model"`
	ServiceTier       string          `json:"service_tier"`
	SystemFingerprint string          `json:"system_fingerprint"`
	Choices           []oaChunkChoice `json:"choices"`
	Usage             any             `json:"usage,omitempty"`
}

type oaChunkChoice struct {
	Index        int            `json:"index"`
	Delta        map[string]any `json:"delta"`
	Logprobs     any            `json:"logprobs"`
	FinishReason *string        `json:"finish_reason"`
}

// jsonNull marshals as null and survives omitempty, unlike a nil interface.
var jsonNull = json.RawMessage("null")

func (s *Server) openAIStream(w http.ResponseWriter, r *http.Request, q *oaChatRequest, g *generation) {
	ctx := r.Context()
	p := s.pacer()
	if p.next(ctx) != nil {
		return
	}
	includeUsage := q.StreamOptions != nil && q.StreamOptions.IncludeUsage
	base := oaChunk{ID: s.newID("chatcmpl-"), Object: "chat.completion.chunk", Created: unix(), Model: q.Model,
		ServiceTier: "default", SystemFingerprint: "fp_" + s.opt.Name}
	if includeUsage {
		base.Usage = jsonNull
	}
	sse := startSSE(w)
	send := func(delta map[string]any, finish *string) error {
		c := base
		c.Choices = []oaChunkChoice{{Index: 0, Delta: delta, FinishReason: finish}}
		return sse.event("", c)
	}
	first := map[string]any{"role": "assistant", "content": "", "refusal": nil}
	if g.toolName != "" {
		first["content"] = nil
		first["tool_calls"] = []map[string]any{{
			"index": 0, "id": s.newID("call_"), "type": "function",
			"function": map[string]string{"name": g.toolName, "arguments": ""},
		}}
	}
	if send(first, nil) != nil {
		return
	}
	failure := s.streamFailure()
	for i, piece := range g.pieces {
		if i > 0 && p.next(ctx) != nil {
			return
		}
		if i == 1 && failure != 0 {
			_ = sse.event("", map[string]openAIErr{"error": openAIStreamError(failure)})
			return
		}
		delta := map[string]any{"content": piece}
		if g.toolName != "" {
			delta = map[string]any{"tool_calls": []map[string]any{{"index": 0, "function": map[string]string{"arguments": piece}}}}
		}
		if send(delta, nil) != nil {
			return
		}
	}
	fin := g.openAIFinish()
	if send(map[string]any{}, &fin) != nil {
		return
	}
	if includeUsage {
		c := base
		c.Choices = []oaChunkChoice{}
		c.Usage = g.openAIUsage()
		if sse.event("", c) != nil {
			return
		}
	}
	_ = sse.raw("", []byte("[DONE]"))
}

// openAIStreamError is the error object OpenAI puts in a data line when a stream fails.
func openAIStreamError(status int) openAIErr {
	if status == http.StatusTooManyRequests {
		return openAIErr{Message: "Rate limit reached.", Type: "requests", Code: "rate_limit_exceeded"}
	}
	return openAIErr{Message: "The server had an error while processing your request. Sorry about that!", Type: "server_error"}
}
