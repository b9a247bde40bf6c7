package llmdemo

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

func (s *Server) serveGemini(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), "/v1beta/models")
	if !ok {
		geminiError(w, http.StatusNotFound, "NOT_FOUND", "Not Found", nil)
		return
	}
	if rest == "" && r.Method == http.MethodGet {
		s.geminiModels(w, r)
		return
	}
	rest, _ = url.PathUnescape(strings.TrimPrefix(rest, "/"))
	model, method, hasMethod := strings.Cut(rest, ":")
	switch {
	case !hasMethod && r.Method == http.MethodGet:
		s.geminiModel(w, r, model)
	case method == "generateContent" && r.Method == http.MethodPost:
		s.geminiGenerate(w, r, model, false)
	case method == "streamGenerateContent" && r.Method == http.MethodPost:
		s.geminiGenerate(w, r, model, true)
	default:
		geminiError(w, http.StatusNotFound, "NOT_FOUND", "Method not found: "+method, nil)
	}
}

// geminiError writes a google.rpc.Status body; details may carry ErrorInfo or RetryInfo.
func geminiError(w http.ResponseWriter, code int, status, msg string, details []map[string]any) {
	e := map[string]any{"code": code, "message": msg, "status": status}
	if details != nil {
		e["details"] = details
	}
	writeJSON(w, code, map[string]any{"error": e})
}

func geminiRefuse(w http.ResponseWriter, f *refusal) {
	switch f.status {
	case http.StatusBadRequest:
		geminiError(w, f.status, "INVALID_ARGUMENT", "Invalid request ("+f.reason+").", nil)
	case http.StatusUnauthorized:
		geminiError(w, f.status, "UNAUTHENTICATED", "Request had invalid authentication credentials.", nil)
	case http.StatusForbidden:
		geminiError(w, f.status, "PERMISSION_DENIED", "The caller does not have permission.", nil)
	case http.StatusNotFound:
		geminiError(w, f.status, "NOT_FOUND", "Requested entity was not found.", nil)
	case http.StatusTooManyRequests:
		w.Header().Set("retry-after", strconv.Itoa(f.retryAfter))
		geminiError(w, f.status, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota): "+f.reason+".",
			[]map[string]any{{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": strconv.Itoa(f.retryAfter) + "s"}})
	case http.StatusServiceUnavailable, 529:
		geminiError(w, f.status, "UNAVAILABLE", "The model is overloaded. Please try again later.", nil)
	case http.StatusGatewayTimeout:
		geminiError(w, f.status, "DEADLINE_EXCEEDED", "Deadline expired before operation could complete.", nil)
	default:
		geminiError(w, f.status, "INTERNAL", "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting", nil)
	}
}

// geminiAuth takes the key from x-goog-api-key or ?key= and answers like the real API: no key
// is 403 PERMISSION_DENIED, a wrong one 400 API_KEY_INVALID.
func (s *Server) geminiAuth(w http.ResponseWriter, r *http.Request) bool {
	key := r.Header.Get("x-goog-api-key")
	if key == "" {
		key = r.URL.Query().Get("key")
	}
	if s.keyOK(key) {
		return true
	}
	if key == "" {
		geminiError(w, http.StatusForbidden, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.", nil)
		return false
	}
	geminiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.",
		[]map[string]any{{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID", "domain": "googleapis.com"}})
	return false
}

func geminiModelInfo(m string) map[string]any {
	return map[string]any{"name": "models/" + m, "displayName": m, "version": "001",
		"inputTokenLimit": 1048576, "outputTokenLimit": 65536,
		"supportedGenerationMethods": []string{"generateContent", "countTokens"}}
}

func (s *Server) geminiModels(w http.ResponseWriter, r *http.Request) {
	if !s.geminiAuth(w, r) {
		return
	}
	out := make([]map[string]any, 0, len(s.opt.Models))
	for _, m := range s.opt.Models {
		out = append(out, geminiModelInfo(m))
	}
	writeJSON(w, http.StatusOK, map[string]any{"models": out})
}

func (s *Server) geminiModel(w http.ResponseWriter, r *http.Request, model string) {
	if !s.geminiAuth(w, r) {
		return
	}
	if !s.serves(model) {
		geminiNotFound(w, model)
		return
	}
	writeJSON(w, http.StatusOK, geminiModelInfo(model))
}

func geminiNotFound(w http.ResponseWriter, model string) {
	geminiError(w, http.StatusNotFound, "NOT_FOUND", "models/"+model+" is not found for API version v1beta, or is not supported for generateContent. Call ListModels to see the list of available models and their supported methods.", nil)
}

type gmRequest struct {
	Contents          []gmContent `json:"contents"`
	SystemInstruction *gmContent  `json:"systemInstruction"`
	Tools             []struct {
		FunctionDeclarations []gmFunction `json:"functionDeclarations"`
	} `json:"tools"`
	ToolConfig *struct {
		FunctionCallingConfig *struct {
			Mode                  string   `json:"mode"`
			AllowedFunctionNames  []string `json:"allowedFunctionNames"`
			AllowedFunctionNames2 []string `json:"allowed_function_names"`
		} `json:"functionCallingConfig"`
	} `json:"toolConfig"`
	GenerationConfig *struct {
		MaxOutputTokens    int            `json:"maxOutputTokens"`
		StopSequences      []string       `json:"stopSequences"`
		ResponseMimeType   string         `json:"responseMimeType"`
		ResponseSchema     map[string]any `json:"responseSchema"`
		ResponseJSONSchema map[string]any `json:"responseJsonSchema"`
		Seed               int64          `json:"seed"`
	} `json:"generationConfig"`
}

type gmContent struct {
	Role  string   `json:"role"`
	Parts []gmPart `json:"parts"`
}

type gmPart struct {
	Text         string `json:"text,omitempty"`
	FunctionCall *struct {
		Name string          `json:"name"`
		Args json.RawMessage `json:"args"`
	} `json:"functionCall,omitempty"`
	FunctionResponse *struct {
		Name     string          `json:"name"`
		Response json.RawMessage `json:"response"`
	} `json:"functionResponse,omitempty"`
}

type gmFunction struct {
	Name                 string         `json:"name"`
	Description          string         `json:"description"`
	Parameters           map[string]any `json:"parameters"`
	ParametersJSONSchema map[string]any `json:"parametersJsonSchema"`
}

func (q *gmRequest) genRequest(model string) (*genRequest, error) {
	if len(q.Contents) == 0 {
		return nil, fmt.Errorf("* GenerateContentRequest.contents: contents is not specified")
	}
	g := &genRequest{model: model}
	add := func(c *gmContent) (last string) {
		for _, p := range c.Parts {
			switch {
			case p.FunctionCall != nil:
				g.texts = append(g.texts, p.FunctionCall.Name, string(p.FunctionCall.Args))
				last = "functionCall"
			case p.FunctionResponse != nil:
				g.texts = append(g.texts, p.FunctionResponse.Name, string(p.FunctionResponse.Response))
				last = "functionResponse"
			default:
				g.texts = append(g.texts, p.Text)
				last = "text"
			}
		}
		return last
	}
	if q.SystemInstruction != nil {
		add(q.SystemInstruction)
	}
	last := ""
	for i := range q.Contents {
		if r := q.Contents[i].Role; r != "" && r != "user" && r != "model" && r != "function" {
			//lint:ignore ST1005 Gemini's own message, kept verbatim for fidelity
			return nil, fmt.Errorf("Please use a valid role: user, model.")
		}
		last = add(&q.Contents[i])
	}
	var decls []gmFunction
	for _, t := range q.Tools {
		for _, f := range t.FunctionDeclarations {
			if f.Parameters == nil {
				f.Parameters = f.ParametersJSONSchema
			}
			decls = append(decls, f)
			g.texts = append(g.texts, schemaText(f.Name, f.Description, f.Parameters)...)
		}
	}
	if c := q.GenerationConfig; c != nil {
		g.maxTokens, g.stops, g.seed = c.MaxOutputTokens, c.StopSequences, c.Seed
		if c.ResponseMimeType == "application/json" {
			g.json = true
			g.schema = c.ResponseSchema
			if g.schema == nil {
				g.schema = c.ResponseJSONSchema
			}
		}
	}
	tool, err := q.pickTool(decls, last)
	if err != nil {
		return nil, err
	}
	g.tool = tool
	return g, nil
}

// pickTool: mode ANY calls the first allowed function; AUTO (the default) calls the first
// declaration unless the last part is a functionResponse; NONE never calls.
func (q *gmRequest) pickTool(decls []gmFunction, last string) (*toolSpec, error) {
	if len(decls) == 0 {
		return nil, nil
	}
	mode, allowed := "AUTO", []string(nil)
	if q.ToolConfig != nil && q.ToolConfig.FunctionCallingConfig != nil {
		fc := q.ToolConfig.FunctionCallingConfig
		if fc.Mode != "" {
			mode = strings.ToUpper(fc.Mode)
		}
		allowed = append(fc.AllowedFunctionNames, fc.AllowedFunctionNames2...)
	}
	spec := func(f gmFunction) *toolSpec { return &toolSpec{name: f.Name, schema: f.Parameters} }
	switch mode {
	case "NONE":
		return nil, nil
	case "ANY", "VALIDATED":
		for _, f := range decls {
			if len(allowed) == 0 || slices.Contains(allowed, f.Name) {
				return spec(f), nil
			}
		}
		return nil, fmt.Errorf("allowed_function_names %v match no function declaration", allowed)
	case "AUTO", "MODE_UNSPECIFIED":
		if len(allowed) > 0 {
			return nil, fmt.Errorf("allowed_function_names is only allowed with mode ANY")
		}
		if last == "functionResponse" {
			return nil, nil
		}
		return spec(decls[0]), nil
	}
	//lint:ignore ST1005 Gemini's own message, kept verbatim for fidelity
	return nil, fmt.Errorf("Invalid value at 'tool_config.function_calling_config.mode' (%s)", mode)
}

func (g *generation) geminiFinish() string {
	if g.finish == finishLength {
		return "MAX_TOKENS"
	}
	return "STOP"
}

func geminiUsage(prompt, out int) map[string]any {
	return map[string]any{"promptTokenCount": prompt, "candidatesTokenCount": out, "totalTokenCount": prompt + out,
		"promptTokensDetails": []map[string]any{{"modality": "TEXT", "tokenCount": prompt}}}
}

func (s *Server) geminiGenerate(w http.ResponseWriter, r *http.Request, model string, stream bool) {
	if f := s.injectedStatus(); f != nil {
		geminiRefuse(w, f)
		return
	}
	if !s.geminiAuth(w, r) {
		return
	}
	if !s.serves(model) {
		geminiNotFound(w, model)
		return
	}
	var q gmRequest
	if err := readJSON(r, &q); err != nil {
		geminiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received. "+err.Error(), nil)
		return
	}
	gq, err := q.genRequest(model)
	if err != nil {
		geminiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", err.Error(), nil)
		return
	}
	if prompt, over := s.tooLong(gq); over {
		geminiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", fmt.Sprintf("The input token count (%d) exceeds the maximum number of tokens allowed (%d).", prompt+gq.maxTokens, s.opt.ContextWindow), nil)
		return
	}
	if _, f := s.admit(callerKey(r), gq.promptTokens()); f != nil {
		geminiRefuse(w, f)
		return
	}
	if s.blocked(gq) {
		body := geminiBlocked(model, s.newID("resp-"), gq.promptTokens())
		if !stream {
			writeJSON(w, http.StatusOK, body)
			return
		}
		_ = startSSE(w).event("", body)
		return
	}
	g := s.generate(gq)
	end, err := s.begin(r.Context(), callerKey(r), g.promptTokens+g.outputTokens())
	if err != nil {
		return
	}
	defer end(g.outputTokens())
	id := s.newID("resp-")
	chunk := func(parts []map[string]any, finish string, out int) map[string]any {
		cand := map[string]any{"content": map[string]any{"role": "model", "parts": parts}, "index": 0}
		if finish != "" {
			cand["finishReason"] = finish
		}
		return map[string]any{"candidates": []any{cand}, "usageMetadata": geminiUsage(g.promptTokens, out),
			"modelVersion": model, "responseId": id}
	}
	callParts := func() []map[string]any {
		return []map[string]any{{"functionCall": map[string]any{"name": g.toolName, "args": json.RawMessage(g.text())}}}
	}
	if !stream {
		if sleep(r.Context(), s.wholeDelay(g.outputTokens())) != nil {
			return
		}
		parts := []map[string]any{{"text": g.text()}}
		if g.toolName != "" {
			parts = callParts()
		}
		writeJSON(w, http.StatusOK, chunk(parts, g.geminiFinish(), g.outputTokens()))
		return
	}
	s.geminiStream(w, r, g, chunk, callParts)
}

// geminiStream sends one GenerateContentResponse per token (a function call comes whole in
// one chunk, as Gemini sends it); the last chunk carries finishReason.
func (s *Server) geminiStream(w http.ResponseWriter, r *http.Request, g *generation,
	chunk func([]map[string]any, string, int) map[string]any, callParts func() []map[string]any) {
	ctx := r.Context()
	p := s.pacer()
	if p.next(ctx) != nil {
		return
	}
	sse := startSSE(w)
	if g.toolName != "" {
		if sleep(ctx, s.wholeDelay(g.outputTokens())-s.opt.TimeToFirstToken) != nil {
			return
		}
		_ = sse.event("", chunk(callParts(), g.geminiFinish(), g.outputTokens()))
		return
	}
	pieces := g.pieces
	if len(pieces) == 0 {
		pieces = []string{""}
	}
	failure := s.streamFailure()
	for i, piece := range pieces {
		if i > 0 && p.next(ctx) != nil {
			return
		}
		if i == 1 && failure != 0 {
			_ = sse.event("", map[string]any{"error": map[string]any{"code": failure, "message": http.StatusText(failure), "status": geminiStatus(failure)}})
			return
		}
		finish := ""
		if i == len(pieces)-1 {
			finish = g.geminiFinish()
		}
		if sse.event("", chunk([]map[string]any{{"text": piece}}, finish, min(i+1, g.outputTokens()))) != nil {
			return
		}
	}
}

// geminiStatus is the google.rpc code name Gemini pairs with an HTTP status.
func geminiStatus(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "INVALID_ARGUMENT"
	case http.StatusTooManyRequests:
		return "RESOURCE_EXHAUSTED"
	case http.StatusServiceUnavailable, 529:
		return "UNAVAILABLE"
	case http.StatusGatewayTimeout:
		return "DEADLINE_EXCEEDED"
	}
	return "INTERNAL"
}
