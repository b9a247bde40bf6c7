package llmdemo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

func (s *Server) serveAnthropic(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("request-id", s.newID("req_"))
	switch {
	case r.URL.Path == "/v1/messages" && r.Method == http.MethodPost:
		s.anthropicMessages(w, r)
	case r.URL.Path == "/v1/models" && r.Method == http.MethodGet:
		s.anthropicModels(w, r)
	case strings.HasPrefix(r.URL.Path, "/v1/models/") && r.Method == http.MethodGet:
		s.anthropicModel(w, r)
	default:
		anthropicError(w, http.StatusNotFound, "not_found_error", "Not Found")
	}
}

func anthropicError(w http.ResponseWriter, status int, typ, msg string) {
	writeJSON(w, status, map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": msg},
		"request_id": w.Header().Get("request-id")})
}

// anthropicErrorTypes are Anthropic's error types by status.
var anthropicErrorTypes = map[int]string{
	400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
	403: "permission_error", 404: "not_found_error", 413: "request_too_large",
	429: "rate_limit_error", 500: "api_error", 504: "timeout_error", 529: "overloaded_error",
}

func anthropicRefuse(w http.ResponseWriter, f *refusal) {
	if f.retryAfter > 0 {
		w.Header().Set("retry-after", strconv.Itoa(f.retryAfter))
	}
	typ, ok := anthropicErrorTypes[f.status]
	if !ok {
		typ = "api_error"
	}
	msg := map[string]string{
		"rate_limit_error":      "Number of requests has exceeded your rate limit (" + f.reason + "). Please try again later.",
		"overloaded_error":      "Overloaded",
		"api_error":             "Internal server error",
		"authentication_error":  "invalid x-api-key",
		"invalid_request_error": "Invalid request (" + f.reason + ").",
	}[typ]
	if msg == "" {
		msg = http.StatusText(f.status)
	}
	anthropicError(w, f.status, typ, msg)
}

// anthropicPreamble runs injected failures and the header checks the real API makes.
func (s *Server) anthropicPreamble(w http.ResponseWriter, r *http.Request) bool {
	if f := s.injectedStatus(); f != nil {
		anthropicRefuse(w, f)
		return false
	}
	return s.anthropicAuth(w, r)
}

func (s *Server) anthropicAuth(w http.ResponseWriter, r *http.Request) bool {
	key := r.Header.Get("x-api-key")
	if key == "" {
		// anthropic-sdk-go v2 sends the API key as a bearer token.
		key, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if key == "" && len(s.opt.APIKeys) > 0 {
		anthropicError(w, http.StatusUnauthorized, "authentication_error", "x-api-key header is required")
		return false
	}
	if !s.keyOK(key) {
		anthropicError(w, http.StatusUnauthorized, "authentication_error", "invalid x-api-key")
		return false
	}
	if r.Header.Get("anthropic-version") == "" {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "anthropic-version: header is required")
		return false
	}
	return true
}

func (s *Server) anthropicModels(w http.ResponseWriter, r *http.Request) {
	if !s.anthropicAuth(w, r) {
		return
	}
	data := make([]map[string]any, 0, len(s.opt.Models))
	ts := time.Unix(created, 0).UTC().Format(time.RFC3339)
	for _, m := range s.opt.Models {
		data = append(data, map[string]any{"type": "model", "id": m, "display_name": m, "created_at": ts})
	}
	var first, last any
	if len(s.opt.Models) > 0 {
		first, last = s.opt.Models[0], s.opt.Models[len(s.opt.Models)-1]
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": data, "has_more": false, "first_id": first, "last_id": last})
}

type anMessagesRequest struct {
	Model         string          `json:"model"`
	MaxTokens     *int            `json:"max_tokens"`
	Messages      []anMessage     `json:"messages"`
	System        json.RawMessage `json:"system"`
	StopSequences []string        `json:"stop_sequences"`
	Stream        bool            `json:"stream"`
	Tools         []anTool        `json:"tools"`
	ToolChoice    *struct {
		Type string `json:"type"`
		Name string `json:"name"`
	} `json:"tool_choice"`
}

type anMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

type anTool struct {
	Name        string         `json:"name"`
	Description string         `json:"description"`
	InputSchema map[string]any `json:"input_schema"`
}

// anBlock is any content block a request may carry.
type anBlock struct {
	Type    string          `json:"type"`
	Text    string          `json:"text"`
	Name    string          `json:"name"`
	Input   json.RawMessage `json:"input"`
	Content json.RawMessage `json:"content"`
}

func anthropicTexts(raw json.RawMessage) ([]string, string, error) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []string{s}, "", nil
	}
	var blocks []anBlock
	if err := json.Unmarshal(raw, &blocks); err != nil {
		return nil, "", fmt.Errorf("content must be a string or an array of content blocks: %w", err)
	}
	var out []string
	last := ""
	for _, b := range blocks {
		last = b.Type
		switch b.Type {
		case "text":
			out = append(out, b.Text)
		case "tool_use":
			out = append(out, b.Name, string(b.Input))
		case "tool_result":
			out = append(out, rawText(b.Content)...)
		}
	}
	return out, last, nil
}

func (q *anMessagesRequest) genRequest() (*genRequest, error) {
	if q.MaxTokens == nil {
		return nil, fmt.Errorf("max_tokens: Field required")
	}
	if *q.MaxTokens < 1 {
		return nil, fmt.Errorf("max_tokens: Input should be greater than or equal to 1")
	}
	if len(q.Messages) == 0 {
		return nil, fmt.Errorf("messages: at least one message is required")
	}
	g := &genRequest{model: q.Model, maxTokens: *q.MaxTokens, stops: q.StopSequences}
	if len(q.System) > 0 {
		texts, _, err := anthropicTexts(q.System)
		if err != nil {
			return nil, fmt.Errorf("system: %w", err)
		}
		g.texts = append(g.texts, texts...)
	}
	lastBlock := ""
	for i, m := range q.Messages {
		if m.Role != "user" && m.Role != "assistant" {
			return nil, fmt.Errorf("messages.%d.role: Input should be 'user' or 'assistant'", i)
		}
		texts, last, err := anthropicTexts(m.Content)
		if err != nil {
			return nil, fmt.Errorf("messages.%d.content: %w", i, err)
		}
		g.texts = append(g.texts, texts...)
		lastBlock = last
	}
	for _, t := range q.Tools {
		g.texts = append(g.texts, schemaText(t.Name, t.Description, t.InputSchema)...)
	}
	tool, err := q.pickTool(lastBlock)
	if err != nil {
		return nil, err
	}
	g.tool = tool
	return g, nil
}

// pickTool mirrors the OpenAI rule: {type: tool} and {type: any} call a tool; auto calls the
// first one unless the last block is a tool_result; none never does.
func (q *anMessagesRequest) pickTool(lastBlock string) (*toolSpec, error) {
	if len(q.Tools) == 0 {
		return nil, nil
	}
	spec := func(t anTool) *toolSpec { return &toolSpec{name: t.Name, schema: t.InputSchema} }
	typ := "auto"
	if q.ToolChoice != nil {
		typ = q.ToolChoice.Type
	}
	switch typ {
	case "none":
		return nil, nil
	case "any":
		return spec(q.Tools[0]), nil
	case "tool":
		for _, t := range q.Tools {
			if t.Name == q.ToolChoice.Name {
				return spec(t), nil
			}
		}
		return nil, fmt.Errorf("tool_choice.name: tool %q not found in tools", q.ToolChoice.Name)
	case "auto":
		if lastBlock == "tool_result" {
			return nil, nil
		}
		return spec(q.Tools[0]), nil
	}
	return nil, fmt.Errorf("tool_choice.type: Input should be 'auto', 'any', 'tool' or 'none'")
}

func (g *generation) anthropicStop() (string, any) {
	switch g.finish {
	case finishLength:
		return "max_tokens", nil
	case finishToolCall:
		return "tool_use", nil
	case finishStopSeq:
		return "stop_sequence", g.stopSeq
	}
	return "end_turn", nil
}

func anthropicUsage(in, out int) map[string]any {
	return map[string]any{"input_tokens": in, "output_tokens": out,
		"cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "service_tier": "standard"}
}

func (s *Server) anthropicMessages(w http.ResponseWriter, r *http.Request) {
	if !s.anthropicPreamble(w, r) {
		return
	}
	var q anMessagesRequest
	if err := readJSON(r, &q); err != nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	if q.Model == "" {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", "model: Field required")
		return
	}
	gq, err := q.genRequest()
	if err != nil {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	if !s.serves(q.Model) {
		anthropicError(w, http.StatusNotFound, "not_found_error", "model: "+q.Model)
		return
	}
	if prompt, over := s.tooLong(gq); over {
		anthropicError(w, http.StatusBadRequest, "invalid_request_error", fmt.Sprintf("prompt is too long: %d tokens > %d maximum", prompt+gq.maxTokens, s.opt.ContextWindow))
		return
	}
	lim, f := s.admit(callerKey(r), gq.promptTokens())
	setAnthropicLimits(w.Header(), lim)
	if f != nil {
		anthropicRefuse(w, f)
		return
	}
	if s.blocked(gq) {
		s.anthropicRefusal(w, r, q.Model, q.Stream, gq.promptTokens())
		return
	}
	g := s.generate(gq)
	end, err := s.begin(r.Context(), callerKey(r), g.promptTokens+g.outputTokens())
	if err != nil {
		return
	}
	defer end(g.outputTokens())
	id := s.newID("msg_")
	if q.Stream {
		s.anthropicStream(w, r, id, q.Model, g)
		return
	}
	if sleep(r.Context(), s.wholeDelay(g.outputTokens())) != nil {
		return
	}
	var block map[string]any
	if g.toolName != "" {
		block = map[string]any{"type": "tool_use", "id": s.newID("toolu_"), "name": g.toolName, "input": json.RawMessage(g.text())}
	} else {
		block = map[string]any{"type": "text", "text": g.text()}
	}
	reason, seq := g.anthropicStop()
	writeJSON(w, http.StatusOK, map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": q.Model,
		"content": []any{block}, "stop_reason": reason, "stop_sequence": seq,
		"usage": anthropicUsage(g.promptTokens, g.outputTokens()),
	})
}

// anthropicStream sends the Messages event sequence: message_start, a ping, one content block
// (start, deltas, stop), message_delta with the stop reason and the running output total, and
// message_stop; each data line is preceded by an `event:` line naming its type.
func (s *Server) anthropicStream(w http.ResponseWriter, r *http.Request, id, model string, g *generation) {
	ctx := r.Context()
	p := s.pacer()
	if p.next(ctx) != nil {
		return
	}
	sse := startSSE(w)
	ev := func(v map[string]any) error { return sse.event(v["type"].(string), v) }
	start := map[string]any{"type": "message_start", "message": map[string]any{
		"id": id, "type": "message", "role": "assistant", "model": model, "content": []any{},
		"stop_reason": nil, "stop_sequence": nil, "usage": anthropicUsage(g.promptTokens, 1),
	}}
	block := map[string]any{"type": "text", "text": ""}
	if g.toolName != "" {
		block = map[string]any{"type": "tool_use", "id": s.newID("toolu_"), "name": g.toolName, "input": map[string]any{}}
	}
	if ev(start) != nil ||
		ev(map[string]any{"type": "content_block_start", "index": 0, "content_block": block}) != nil ||
		ev(map[string]any{"type": "ping"}) != nil {
		return
	}
	if g.toolName != "" {
		// The real API opens a tool_use block with an empty fragment.
		if ev(map[string]any{"type": "content_block_delta", "index": 0, "delta": map[string]any{"type": "input_json_delta", "partial_json": ""}}) != nil {
			return
		}
	}
	failure := s.streamFailure()
	for i, piece := range g.pieces {
		if i > 0 && p.next(ctx) != nil {
			return
		}
		if i == 1 && failure != 0 {
			typ, ok := anthropicErrorTypes[failure]
			if !ok {
				typ = "api_error"
			}
			_ = ev(map[string]any{"type": "error", "error": map[string]string{"type": typ, "message": http.StatusText(failure)}})
			return
		}
		delta := map[string]any{"type": "text_delta", "text": piece}
		if g.toolName != "" {
			delta = map[string]any{"type": "input_json_delta", "partial_json": piece}
		}
		if ev(map[string]any{"type": "content_block_delta", "index": 0, "delta": delta}) != nil {
			return
		}
	}
	reason, seq := g.anthropicStop()
	if ev(map[string]any{"type": "content_block_stop", "index": 0}) != nil ||
		ev(map[string]any{"type": "message_delta", "delta": map[string]any{"stop_reason": reason, "stop_sequence": seq},
			"usage": map[string]any{"output_tokens": g.outputTokens()}}) != nil {
		return
	}
	_ = ev(map[string]any{"type": "message_stop"})
}

// anthropicModel serves /v1/models/{id}; an id with "/" arrives as %2F.
func (s *Server) anthropicModel(w http.ResponseWriter, r *http.Request) {
	if !s.anthropicAuth(w, r) {
		return
	}
	id, err := url.PathUnescape(strings.TrimPrefix(r.URL.EscapedPath(), "/v1/models/"))
	if err != nil || !s.serves(id) {
		anthropicError(w, http.StatusNotFound, "not_found_error", "model: "+id)
		return
	}
	ts := time.Unix(created, 0).UTC().Format(time.RFC3339)
	writeJSON(w, http.StatusOK, map[string]any{"type": "model", "id": id, "display_name": id, "created_at": ts})
}
