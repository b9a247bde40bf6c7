package openai

import (
	"encoding/json"

	"aya/internal/llm"
)

// scanRequest reads the common shape of a client's chat request — text messages and the
// sampling options, no tools, tool calls or response format — reporting false for anything
// else, which encoding/json then decodes (and words the errors of).
func scanRequest(data []byte, cr *chatRequest) bool {
	s := llm.NewScanner(data)
	ok := s.Object(func(key []byte) bool {
		switch string(key) {
		case "model":
			return s.OptString(&cr.Model)
		case "user":
			return s.OptString(&cr.User)
		case "messages":
			if s.Null() {
				cr.Messages = nil
				return true
			}
			cr.Messages = cr.Messages[:0]
			if cr.Messages == nil {
				cr.Messages = make([]message, 0, 4)
			}
			return s.Array(func() bool {
				cr.Messages = grow(cr.Messages)
				return scanMessage(&s, &cr.Messages[len(cr.Messages)-1])
			})
		case "tool_choice":
			return optRaw(&s, &cr.ToolChoice)
		case "stop":
			return optRaw(&s, &cr.Stop)
		case "temperature":
			return optFloat(&s, &cr.Temperature)
		case "top_p":
			return optFloat(&s, &cr.TopP)
		case "max_tokens":
			return optInt(&s, &cr.MaxTokens)
		case "max_completion_tokens":
			return optInt(&s, &cr.MaxCompletionTokens)
		case "n":
			return optInt(&s, &cr.N)
		case "seed":
			if s.Null() {
				cr.Seed = nil
				return true
			}
			v, ok := s.Int()
			n := int64(v)
			cr.Seed = &n
			return ok
		case "stream":
			if s.Null() {
				return true
			}
			v, ok := s.Bool()
			cr.Stream = v
			return ok
		case "stream_options":
			if s.Null() {
				cr.StreamOptions = nil
				return true
			}
			if cr.StreamOptions == nil {
				cr.StreamOptions = &streamOptions{}
			}
			so := cr.StreamOptions
			return s.Object(func(key []byte) bool {
				if string(key) == "include_usage" {
					if s.Null() {
						return true
					}
					v, ok := s.Bool()
					so.IncludeUsage = v
					return ok
				}
				return !llm.FoldsTo(key, "include_usage") && s.Skip()
			})
		case "tools", "response_format":
			return s.Null() // left to encoding/json
		}
		return !llm.FoldsTo(key, "model", "user", "messages", "tool_choice", "stop", "temperature", "top_p", "max_tokens",
			"max_completion_tokens", "n", "seed", "stream", "stream_options", "tools", "response_format") && s.Skip()
	})
	return ok && s.End()
}

func scanMessage(s *llm.Scanner, m *message) bool {
	return s.Object(func(key []byte) bool {
		switch string(key) {
		case "role":
			return s.OptString(&m.Role)
		case "name":
			return s.OptString(&m.Name)
		case "tool_call_id":
			return s.OptString(&m.ToolCallID)
		case "content":
			return optRaw(s, &m.Content)
		case "tool_calls":
			return s.Null() // left to encoding/json
		}
		return !llm.FoldsTo(key, "role", "name", "tool_call_id", "content", "tool_calls") && s.Skip()
	})
}

// optRaw reads any value into a json.RawMessage as encoding/json does: null included, as
// its bytes, and copied.
func optRaw(s *llm.Scanner, dst *json.RawMessage) bool {
	v, ok := s.Raw()
	*dst = append((*dst)[:0], v...)
	return ok
}

func optFloat(s *llm.Scanner, dst **float64) bool {
	if s.Null() {
		*dst = nil
		return true
	}
	v, ok := s.Float()
	*dst = &v
	return ok
}

func optInt(s *llm.Scanner, dst **int) bool {
	if s.Null() {
		*dst = nil
		return true
	}
	v, ok := s.Int()
	*dst = &v
	return ok
}
