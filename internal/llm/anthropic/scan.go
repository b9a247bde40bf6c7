package anthropic

import (
	"strconv"

	"aya/internal/llm"
)

// The scanner paths of the stream codecs: a text delta — nearly every event of a stream — and a
// ping are read and written without reflection; every other event goes through encoding/json,
// which has the last word on what the JSON means.

// scanEvent reads a content_block_delta or ping event (keys type, index and delta only) into
// ev, reporting false for anything else.
func scanEvent(data []byte, ev *streamEvent) bool {
	s := llm.NewScanner(data)
	ok := s.Object(func(key []byte) bool {
		switch string(key) {
		case "type":
			return s.OptString(&ev.Type)
		case "index":
			if s.Null() {
				return true
			}
			n, ok := s.Int()
			ev.Index = n
			return ok
		case "delta":
			if s.Null() {
				ev.Delta = nil
				return true
			}
			if ev.Delta == nil {
				ev.Delta = &streamDelta{}
			}
			d := ev.Delta
			return s.Object(func(key []byte) bool {
				switch string(key) {
				case "type":
					return s.OptString(&d.Type)
				case "text":
					return s.OptString(&d.Text)
				case "partial_json":
					return s.OptString(&d.PartialJSON)
				case "stop_reason":
					return s.OptString(&d.StopReason)
				case "stop_sequence":
					if s.Null() {
						d.StopSequence = nil
						return true
					}
					v, ok := s.String()
					d.StopSequence = &v
					return ok
				}
				return !llm.FoldsTo(key, "type", "text", "partial_json", "stop_reason", "stop_sequence") && s.Skip()
			})
		}
		// message, content_block, usage and error are left to encoding/json.
		return !llm.FoldsTo(key, "type", "index", "delta", "message", "content_block", "usage", "error") && s.Skip()
	})
	return ok && s.End()
}

// appendTextDelta appends a text delta event's data as encoding/json writes the map the
// writer would otherwise marshal (keys sorted).
func appendTextDelta(b []byte, index int, text string) []byte {
	b = append(b, `{"delta":{"text":`...)
	b = llm.AppendJSONString(b, text)
	b = append(b, `,"type":"text_delta"},"index":`...)
	b = strconv.AppendInt(b, int64(index), 10)
	return append(b, `,"type":"content_block_delta"}`...)
}
