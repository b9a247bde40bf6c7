package openai

import (
	"aya/internal/llm"
)

// The scanner paths of the provider-side decoders: the common shapes of a chat.completion and
// of its chunks, read without reflection. Each reports false on anything it does not read
// itself exactly as encoding/json would, and the caller then uses encoding/json.

// scanResponse reads a chat.completion without tool calls.
func scanResponse(data []byte, cr *chatResponse) bool {
	s := llm.NewScanner(data)
	ok := s.Object(func(key []byte) bool {
		switch string(key) {
		case "id":
			return s.OptString(&cr.ID)
		case "object":
			return s.OptString(&cr.Object)
		case "model":
			return s.OptString(&cr.Model)
		case "created":
			return s.Null() || skipInt(&s)
		case "system_fingerprint":
			if s.Null() {
				cr.SystemFingerprint = nil
				return true
			}
			return skipString(&s)
		case "usage":
			return scanUsage(&s, &cr.Usage)
		case "choices":
			if s.Null() {
				cr.Choices = nil
				return true
			}
			cr.Choices = cr.Choices[:0]
			if cr.Choices == nil {
				cr.Choices = make([]choice, 0, 1) // [] is an empty slice, not nil
			}
			return s.Array(func() bool {
				cr.Choices = grow(cr.Choices)
				return scanRespChoice(&s, &cr.Choices[len(cr.Choices)-1])
			})
		}
		return !llm.FoldsTo(key, "id", "object", "model", "created", "system_fingerprint", "usage", "choices") && s.Skip()
	})
	return ok && s.End()
}

func scanRespChoice(s *llm.Scanner, c *choice) bool {
	return s.Object(func(key []byte) bool {
		switch string(key) {
		case "index":
			return s.Null() || scanInt(s, &c.Index)
		case "finish_reason":
			return s.OptString(&c.FinishReason)
		case "logprobs":
			return s.Skip()
		case "message":
			return s.Null() || s.Object(func(key []byte) bool {
				m := &c.Message
				switch string(key) {
				case "role":
					return s.OptString(&m.Role)
				case "content":
					return optStringPtr(s, &m.Content)
				case "refusal":
					return optStringPtr(s, &m.Refusal)
				case "tool_calls":
					return s.Null() // tool calls are left to encoding/json
				}
				return !llm.FoldsTo(key, "role", "content", "refusal", "tool_calls") && s.Skip()
			})
		}
		return !llm.FoldsTo(key, "index", "finish_reason", "logprobs", "message") && s.Skip()
	})
}

// scanUsage reads a usage object (or null) into *u, reusing a *u already set as
// encoding/json does.
func scanUsage(s *llm.Scanner, u **usage) bool {
	if s.Null() {
		*u = nil
		return true
	}
	if *u == nil {
		*u = &usage{}
	}
	v := *u
	return s.Object(func(key []byte) bool {
		switch string(key) {
		case "prompt_tokens":
			return s.Null() || scanInt(s, &v.PromptTokens)
		case "completion_tokens":
			return s.Null() || scanInt(s, &v.CompletionTokens)
		case "total_tokens":
			return s.Null() || scanInt(s, &v.TotalTokens)
		case "prompt_tokens_details":
			if s.Null() {
				v.PromptTokensDetails = nil
				return true
			}
			if v.PromptTokensDetails == nil {
				v.PromptTokensDetails = &promptDetail{}
			}
			d := v.PromptTokensDetails
			return s.Object(func(key []byte) bool {
				if string(key) == "cached_tokens" {
					return s.Null() || scanInt(s, &d.CachedTokens)
				}
				return !llm.FoldsTo(key, "cached_tokens") && s.Skip()
			})
		case "completion_tokens_details":
			if s.Null() {
				v.CompletionTokensDetails = nil
				return true
			}
			if v.CompletionTokensDetails == nil {
				v.CompletionTokensDetails = &complDetail{}
			}
			d := v.CompletionTokensDetails
			return s.Object(func(key []byte) bool {
				if string(key) == "reasoning_tokens" {
					return s.Null() || scanInt(s, &d.ReasoningTokens)
				}
				return !llm.FoldsTo(key, "reasoning_tokens") && s.Skip()
			})
		}
		return !llm.FoldsTo(key, "prompt_tokens", "completion_tokens", "total_tokens", "prompt_tokens_details", "completion_tokens_details") && s.Skip()
	})
}

// grow lengthens s by one element, reusing (not zeroing) one within its capacity, as
// encoding/json does when a key repeats.
func grow[T any](s []T) []T {
	if len(s) < cap(s) {
		return s[:len(s)+1]
	}
	var zero T
	return append(s, zero)
}

// optStringPtr reads a string or null into a *string field.
func optStringPtr(s *llm.Scanner, dst **string) bool {
	if s.Null() {
		*dst = nil
		return true
	}
	v, ok := s.String()
	*dst = &v
	return ok
}

func scanInt(s *llm.Scanner, dst *int) bool {
	v, ok := s.Int()
	*dst = v
	return ok
}

func skipString(s *llm.Scanner) bool {
	_, ok := s.String()
	return ok
}

func skipInt(s *llm.Scanner) bool {
	_, ok := s.Int()
	return ok
}
