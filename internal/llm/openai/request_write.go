package openai

import (
	"math"
	"strconv"

	"aya/internal/llm"
)

// appendRequest writes cr as encoding/json writes the chatRequest type, for the requests
// most calls are — no tools, tool calls or response format — and reports false for others,
// which json.Marshal then writes. The raw fields (content, tool_choice, stop) hold compact
// JSON from aya's own encoders, which json.Marshal would copy unchanged.
func appendRequest(b []byte, cr *chatRequest) ([]byte, bool) {
	if len(cr.Tools) > 0 || cr.ResponseFormat != nil {
		return b, false
	}
	b = append(b, `{"model":`...)
	b = llm.AppendJSONString(b, cr.Model)
	b = append(b, `,"messages":`...)
	if cr.Messages == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i := range cr.Messages {
			m := &cr.Messages[i]
			if len(m.ToolCalls) > 0 {
				return b, false
			}
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"role":`...)
			b = llm.AppendJSONString(b, m.Role)
			if len(m.Content) > 0 {
				b = append(b, `,"content":`...)
				b = append(b, m.Content...)
			}
			if m.Name != "" {
				b = append(b, `,"name":`...)
				b = llm.AppendJSONString(b, m.Name)
			}
			if m.ToolCallID != "" {
				b = append(b, `,"tool_call_id":`...)
				b = llm.AppendJSONString(b, m.ToolCallID)
			}
			b = append(b, '}')
		}
		b = append(b, ']')
	}
	if len(cr.ToolChoice) > 0 {
		b = append(b, `,"tool_choice":`...)
		b = append(b, cr.ToolChoice...)
	}
	if len(cr.Stop) > 0 {
		b = append(b, `,"stop":`...)
		b = append(b, cr.Stop...)
	}
	var ok bool
	if b, ok = appendFloatField(b, `,"temperature":`, cr.Temperature); !ok {
		return b, false
	}
	if b, ok = appendFloatField(b, `,"top_p":`, cr.TopP); !ok {
		return b, false
	}
	b = appendIntField(b, `,"max_tokens":`, cr.MaxTokens)
	b = appendIntField(b, `,"max_completion_tokens":`, cr.MaxCompletionTokens)
	if cr.Stream {
		b = append(b, `,"stream":true`...)
	}
	if so := cr.StreamOptions; so != nil {
		b = append(b, `,"stream_options":{"include_usage":`...)
		b = strconv.AppendBool(b, so.IncludeUsage)
		b = append(b, '}')
	}
	b = appendIntField(b, `,"n":`, cr.N)
	if cr.User != "" {
		b = append(b, `,"user":`...)
		b = llm.AppendJSONString(b, cr.User)
	}
	if cr.Seed != nil {
		b = append(b, `,"seed":`...)
		b = strconv.AppendInt(b, *cr.Seed, 10)
	}
	return append(b, '}'), true
}

func appendIntField(b []byte, name string, v *int) []byte {
	if v == nil {
		return b
	}
	b = append(b, name...)
	return strconv.AppendInt(b, int64(*v), 10)
}

// appendFloatField writes a float64 as encoding/json does (the shortest form that reads back
// the same, exponent form below 1e-6 and from 1e21, "e-07" written "e-7"); NaN and the
// infinities, which json.Marshal refuses, report false.
func appendFloatField(b []byte, name string, v *float64) ([]byte, bool) {
	if v == nil {
		return b, true
	}
	f := *v
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, false
	}
	b = append(b, name...)
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, true
}
