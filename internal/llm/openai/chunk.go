package openai

import (
	"encoding/json"

	"aya/internal/llm"
)

// chunkIn is a chat.completion.chunk as a provider sends it, with the error object some
// servers put in a stream.
type chunkIn struct {
	chunk
	Usage *usage       `json:"usage"`
	Error *errorObject `json:"error"`
}

// decodeChunk reads a chunk. A text, role, finish or usage chunk — nearly every chunk of a
// stream — is read by the scanner; anything else (tool calls, an error, an unusual spelling)
// by encoding/json, which has the last word on what the JSON means.
// With ids false the chunk's id and model are checked but not kept: a stream reader needs
// them only from its first chunk.
func decodeChunk(data []byte, c *chunkIn, ids bool) error {
	if scanChunk(data, c, ids) {
		return nil
	}
	*c = chunkIn{}
	return json.Unmarshal(data, c)
}

// scanChunk reads the common chunk shapes into c, reporting false for anything else.
func scanChunk(data []byte, c *chunkIn, ids bool) bool {
	s := llm.NewScanner(data)
	ok := s.Object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "id":
			if !ids {
				return s.Null() || skipString(&s)
			}
			c.ID, ok = s.String()
		case "model":
			if !ids {
				return s.Null() || skipString(&s)
			}
			c.Model, ok = s.String()
		case "choices":
			c.Choices = c.Choices[:0]
			ok = s.Null() || s.Array(func() bool {
				c.Choices = grow(c.Choices)
				return scanChoice(&s, &c.Choices[len(c.Choices)-1])
			})
		case "usage":
			ok = scanUsage(&s, &c.Usage)
		case "error":
			ok = s.Null()
		case "object", "system_fingerprint":
			// Unused, but encoding/json would refuse another type.
			ok = s.Null() || skipString(&s)
		case "created":
			ok = s.Null() || skipInt(&s)
		default:
			ok = !llm.FoldsTo(key, "id", "model", "choices", "usage", "error", "object", "system_fingerprint", "created") && s.Skip()
		}
		return ok
	})
	return ok && s.End()
}

func scanChoice(s *llm.Scanner, ch *chunkChoice) bool {
	return s.Object(func(key []byte) bool {
		var ok bool
		switch string(key) {
		case "index":
			ch.Index, ok = s.Int()
		case "delta":
			ok = s.Object(func(key []byte) bool {
				switch string(key) {
				case "role":
					if s.Null() {
						return true
					}
					r, ok := s.String()
					ch.Delta.Role = r
					return ok
				case "content":
					if s.Null() {
						ch.Delta.Content = nil
						return true
					}
					t, ok := s.String()
					ch.Delta.Content = &t
					return ok
				case "tool_calls":
					return s.Null()
				}
				return !llm.FoldsTo(key, "role", "content", "tool_calls") && s.Skip()
			})
		case "finish_reason":
			if s.Null() {
				ch.FinishReason = nil
				return true
			}
			f, ok := s.String()
			ch.FinishReason = &f
			return ok
		case "logprobs":
			ok = s.Skip()
		default:
			ok = !llm.FoldsTo(key, "index", "delta", "finish_reason", "logprobs") && s.Skip()
		}
		return ok
	})
}
