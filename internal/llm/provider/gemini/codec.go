package gemini

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"aya/internal/llm"
)

// encodeRequest writes req as a generateContent body: roles user/model, the system prompt as
// systemInstruction, tools as functionDeclarations, tool_choice as functionCallingConfig.
func encodeRequest(req *llm.Request) ([]byte, error) {
	gr := generateRequest{}
	if req.System != "" {
		gr.SystemInstruction = &content{Parts: []part{{Text: req.System}}}
	}
	// Gemini answers a call by the function's name; unified tool results carry the call id.
	names := map[string]string{}
	for _, m := range req.Messages {
		var c content
		switch m.Role {
		case llm.RoleAssistant:
			c.Role = "model"
			for _, p := range m.Content {
				if p.Type == llm.PartText && p.Text != "" {
					c.Parts = append(c.Parts, part{Text: p.Text})
				}
			}
			for _, tc := range m.ToolCalls {
				names[tc.ID] = tc.Name
				args := json.RawMessage(tc.Arguments)
				if !json.Valid(args) {
					args = json.RawMessage("{}")
				}
				c.Parts = append(c.Parts, part{FunctionCall: &functionCall{Name: tc.Name, Args: args}})
			}
		case llm.RoleTool:
			c.Role = "user"
			text := llm.JoinText(m.Content)
			resp := json.RawMessage(text)
			if t := bytes.TrimSpace(resp); len(t) == 0 || t[0] != '{' || !json.Valid(t) {
				resp, _ = json.Marshal(map[string]string{"result": text})
			}
			c.Parts = append(c.Parts, part{FunctionResponse: &functionResponse{Name: names[m.ToolCallID], Response: resp}})
		default:
			c.Role = "user"
			for _, p := range m.Content {
				switch {
				case p.Type == llm.PartImage && p.Data != "":
					c.Parts = append(c.Parts, part{InlineData: &blob{MimeType: p.MediaType, Data: p.Data}})
				case p.Type == llm.PartImage:
					c.Parts = append(c.Parts, part{FileData: &fileData{FileURI: p.URL}})
				case p.Text != "":
					c.Parts = append(c.Parts, part{Text: p.Text})
				}
			}
		}
		if len(c.Parts) == 0 {
			continue
		}
		// Consecutive turns of one role (several tool results) become one content.
		if n := len(gr.Contents); n > 0 && gr.Contents[n-1].Role == c.Role {
			gr.Contents[n-1].Parts = append(gr.Contents[n-1].Parts, c.Parts...)
			continue
		}
		gr.Contents = append(gr.Contents, c)
	}
	if len(req.Tools) > 0 {
		ts := toolSet{}
		for _, t := range req.Tools {
			ts.FunctionDeclarations = append(ts.FunctionDeclarations, functionDeclaration{Name: t.Name, Description: t.Description, Parameters: t.Parameters})
		}
		gr.Tools = []toolSet{ts}
		if tc := req.ToolChoice; tc != nil {
			fc := functionCallingConfig{Mode: "AUTO"}
			switch tc.Mode {
			case llm.ToolNone:
				fc.Mode = "NONE"
			case llm.ToolRequired:
				fc.Mode = "ANY"
			case llm.ToolForced:
				fc = functionCallingConfig{Mode: "ANY", AllowedFunctionNames: []string{tc.Name}}
			}
			gr.ToolConfig = &toolConfig{FunctionCallingConfig: fc}
		}
	}
	g := generationConfig{Temperature: req.Temperature, TopP: req.TopP, MaxOutputTokens: req.MaxTokens, StopSequences: req.Stop, Seed: req.Seed}
	if rf := req.ResponseFormat; rf != nil && rf.Type != "text" {
		g.ResponseMimeType = "application/json"
		g.ResponseSchema = rf.Schema
	}
	gr.GenerationConfig = &g
	return json.Marshal(&gr)
}

func decodeUsage(u *usageMetadata) llm.Usage {
	return llm.Usage{
		Input:       u.PromptTokenCount,
		Output:      u.CandidatesTokenCount + u.ThoughtsTokenCount,
		CachedInput: u.CachedContentTokenCount,
		Reasoning:   u.ThoughtsTokenCount,
	}
}

// finishReason maps Gemini's finishReason; a turn that called functions ends in tool_calls.
func finishReason(r string, calledTools bool) string {
	switch r {
	case "MAX_TOKENS":
		return llm.FinishLength
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "IMAGE_SAFETY":
		return llm.FinishContentFilter
	}
	if calledTools {
		return llm.FinishToolCalls
	}
	return llm.FinishStop
}

func callID(fc *functionCall, i int) string {
	if fc.ID != "" {
		return fc.ID
	}
	return "call_" + strconv.Itoa(i)
}

func args(fc *functionCall) string {
	if len(fc.Args) == 0 {
		return "{}"
	}
	return string(fc.Args)
}

func decodeResponse(body []byte) (*llm.Response, error) {
	var gr generateResponse
	if err := json.Unmarshal(body, &gr); err != nil {
		return nil, fmt.Errorf("provider answer is not a generateContent response: %w", err)
	}
	r := &llm.Response{ID: gr.ResponseID, Model: gr.ModelVersion}
	if gr.UsageMetadata != nil {
		r.Usage = decodeUsage(gr.UsageMetadata)
	}
	if e := blocked(&gr); e != nil {
		return nil, e
	}
	if len(gr.Candidates) == 0 {
		return nil, fmt.Errorf("provider answer has no candidates")
	}
	c := gr.Candidates[0]
	for _, p := range c.Content.Parts {
		switch {
		case p.Thought:
		case p.FunctionCall != nil:
			r.ToolCalls = append(r.ToolCalls, llm.ToolCall{ID: callID(p.FunctionCall, len(r.ToolCalls)), Name: p.FunctionCall.Name, Arguments: args(p.FunctionCall)})
		default:
			r.Text += p.Text
		}
	}
	r.Finish = finishReason(c.FinishReason, len(r.ToolCalls) > 0)
	return r, nil
}

// blocked is the error for a prompt Gemini refused: a 200 with promptFeedback.blockReason and
// no candidates, which Google's SDKs raise as an exception. It is a content-policy failure
// (400, OpenAI's code content_policy_violation), so a model with content_policy_fallbacks
// tries another model, and a client gets it in its API's error shape.
func blocked(gr *generateResponse) *llm.Error {
	if gr.PromptFeedback == nil || gr.PromptFeedback.BlockReason == "" || len(gr.Candidates) > 0 {
		return nil
	}
	return &llm.Error{Status: 400, Type: llm.ErrInvalidRequest, Code: llm.CodeContentPolicy,
		Message: "Gemini blocked the prompt (promptFeedback.blockReason " + gr.PromptFeedback.BlockReason + ")"}
}

// decodeError reads a google.rpc.Status error body.
func decodeError(status int, body []byte) *llm.Error {
	e := &llm.Error{Status: status, Type: llm.TypeForStatus(status)}
	var gr generateResponse
	if json.Unmarshal(body, &gr) == nil && gr.Error != nil && gr.Error.Message != "" {
		e.Message, e.Code = gr.Error.Message, gr.Error.Status
		return e
	}
	e.Message = fmt.Sprintf("provider answered %d: %.200s", status, body)
	return e
}

// streamReader turns streamGenerateContent's SSE (each event a partial response) into events.
type streamReader struct {
	sse     *llm.SSEReader
	body    io.Closer
	pending []llm.Event
	started bool
	tools   int
	done    bool
}

func (s *streamReader) Close() error { return s.body.Close() }

func (s *streamReader) Next() (llm.Event, error) {
	for len(s.pending) == 0 {
		if s.done {
			return llm.Event{}, io.EOF
		}
		if err := s.read(); err != nil {
			return llm.Event{}, err
		}
	}
	ev := s.pending[0]
	s.pending = s.pending[1:]
	return ev, nil
}

func (s *streamReader) read() error {
	_, data, err := s.sse.Next()
	if err == io.EOF {
		s.done = true
		return nil
	}
	if err != nil {
		return err
	}
	var gr generateResponse
	if err := json.Unmarshal(data, &gr); err != nil {
		return fmt.Errorf("provider sent a stream event that is not JSON: %w", err)
	}
	if gr.Error != nil {
		return &llm.Error{Status: 502, Type: llm.TypeForStatus(gr.Error.Code), Code: gr.Error.Status, Message: gr.Error.Message}
	}
	if e := blocked(&gr); e != nil {
		return e
	}
	s.pending = s.pending[:0]
	if !s.started {
		s.started = true
		s.pending = append(s.pending, llm.Event{Kind: llm.EventStart, ID: gr.ResponseID, Model: gr.ModelVersion})
	}
	if len(gr.Candidates) > 0 {
		c := gr.Candidates[0]
		for _, p := range c.Content.Parts {
			switch {
			case p.Thought:
			case p.FunctionCall != nil:
				s.pending = append(s.pending,
					llm.Event{Kind: llm.EventToolStart, Index: s.tools, ID: callID(p.FunctionCall, s.tools), Name: p.FunctionCall.Name},
					llm.Event{Kind: llm.EventToolArgs, Index: s.tools, Text: args(p.FunctionCall)})
				s.tools++
			case p.Text != "":
				s.pending = append(s.pending, llm.Event{Kind: llm.EventText, Text: p.Text})
			}
		}
		if c.FinishReason != "" {
			s.pending = append(s.pending, llm.Event{Kind: llm.EventFinish, Finish: finishReason(c.FinishReason, s.tools > 0)})
		}
	}
	if gr.UsageMetadata != nil {
		s.pending = append(s.pending, llm.Event{Kind: llm.EventUsage, Usage: decodeUsage(gr.UsageMetadata)})
	}
	return nil
}
