package anthropic

import (
	"encoding/json"
	"fmt"
	"io"

	"aya/internal/llm"
)

// StreamWriter writes llm stream events to a client as an Anthropic message stream:
// message_start, ping, then per content block content_block_start, its deltas and
// content_block_stop (indexes from 0, one up each), then message_delta with the stop reason and
// the output token total, then message_stop. Each SSE event has an event: line naming its type.
type StreamWriter struct {
	w         io.Writer
	flush     func() error
	id, model string
	usage     llm.Usage
	finish    string
	stopSeq   string
	started   bool
	open      bool // a content block is open
	isText    bool // the open block is text
	tool      int  // the open block's tool call index
	next      int  // the next block's index
	buf       []byte
	data      []byte // a text delta's JSON, reused
}

// NewStreamWriter writes to w, calling flush after each event.
func NewStreamWriter(w io.Writer, flush func() error) *StreamWriter {
	return &StreamWriter{w: w, flush: flush}
}

// Write sends what ev adds to the answer.
func (s *StreamWriter) Write(ev llm.Event) error {
	switch ev.Kind {
	case llm.EventStart:
		s.id, s.model = ev.ID, ev.Model
		if ev.Usage != (llm.Usage{}) {
			s.usage = ev.Usage
		}
		return s.start()
	case llm.EventText:
		if err := s.start(); err != nil {
			return err
		}
		if !s.open || !s.isText {
			empty := ""
			if err := s.openBlock(block{Type: "text", Text: &empty}, true, 0); err != nil {
				return err
			}
		}
		s.data = appendTextDelta(s.data[:0], s.next-1, ev.Text)
		return s.sendRaw("content_block_delta", s.data)
	case llm.EventToolStart:
		if err := s.start(); err != nil {
			return err
		}
		return s.openBlock(block{Type: "tool_use", ID: ev.ID, Name: ev.Name, Input: json.RawMessage("{}")}, false, ev.Index)
	case llm.EventToolArgs:
		if !s.open || s.isText || s.tool != ev.Index {
			return nil // arguments of a call whose block is already closed cannot be placed
		}
		return s.send("content_block_delta", map[string]any{"type": "content_block_delta", "index": s.next - 1,
			"delta": map[string]string{"type": "input_json_delta", "partial_json": ev.Text}})
	case llm.EventFinish:
		s.finish, s.stopSeq = ev.Finish, ev.StopSequence
	case llm.EventUsage:
		s.usage = ev.Usage
	}
	return nil
}

// Usage is the last usage the stream reported.
func (s *StreamWriter) Usage() llm.Usage { return s.usage }

func (s *StreamWriter) start() error {
	if s.started {
		return nil
	}
	s.started = true
	u := encodeUsage(s.usage)
	msg := messageResponse{ID: s.id, Type: "message", Role: "assistant", Model: s.model, Content: []block{}, Usage: u}
	if err := s.send("message_start", map[string]any{"type": "message_start", "message": &msg}); err != nil {
		return err
	}
	return s.send("ping", map[string]string{"type": "ping"})
}

func (s *StreamWriter) openBlock(b block, isText bool, tool int) error {
	if err := s.closeBlock(); err != nil {
		return err
	}
	s.open, s.isText, s.tool = true, isText, tool
	s.next++
	return s.send("content_block_start", map[string]any{"type": "content_block_start", "index": s.next - 1, "content_block": &b})
}

func (s *StreamWriter) closeBlock() error {
	if !s.open {
		return nil
	}
	s.open = false
	return s.send("content_block_stop", map[string]any{"type": "content_block_stop", "index": s.next - 1})
}

// End closes the open block and writes message_delta and message_stop.
func (s *StreamWriter) End() error {
	if err := s.start(); err != nil {
		return err
	}
	if err := s.closeBlock(); err != nil {
		return err
	}
	u := encodeUsage(s.usage)
	md := map[string]any{
		"type":  "message_delta",
		"delta": map[string]any{"stop_reason": stopReason(s.finish, s.stopSeq), "stop_sequence": nullable(s.stopSeq)},
		"usage": &u,
	}
	if err := s.send("message_delta", md); err != nil {
		return err
	}
	return s.send("message_stop", map[string]string{"type": "message_stop"})
}

// Fail ends a stream that broke after it started with an error event, as Anthropic does.
func (s *StreamWriter) Fail(e *llm.Error) error {
	return s.sendRaw("error", EncodeError(e))
}

func (s *StreamWriter) send(event string, v any) error {
	return s.sendRaw(event, mustJSON(v))
}

func (s *StreamWriter) sendRaw(event string, data []byte) error {
	s.buf = append(s.buf[:0], "event: "...)
	s.buf = append(s.buf, event...)
	s.buf = append(s.buf, "\ndata: "...)
	s.buf = append(s.buf, data...)
	s.buf = append(s.buf, "\n\n"...)
	if _, err := s.w.Write(s.buf); err != nil {
		return err
	}
	return s.flush()
}

// StreamReader turns a provider's message stream into llm events as it arrives.
type StreamReader struct {
	sse     *llm.SSEReader
	body    io.Closer
	pending []llm.Event
	// tools maps a content block index to its tool call index; -1 for other blocks.
	tools     map[int]int
	nextTool  int
	usage     llm.Usage
	done      bool
	gotFinish bool
	err       error // what a read ahead (Buffered) met, for Next to return
}

// NewStreamReader reads the SSE body of a streamed message; Close closes body.
func NewStreamReader(body io.ReadCloser) *StreamReader {
	return &StreamReader{sse: llm.NewSSEReader(body), body: body, tools: map[int]int{}}
}

// Close releases the provider's body.
func (s *StreamReader) Close() error { return s.body.Close() }

// Buffered reports whether Next will return an event without waiting for the provider (see
// the OpenAI reader's Buffered): one is decoded and waiting, or a whole event with one is
// buffered and is decoded now.
func (s *StreamReader) Buffered() bool {
	for len(s.pending) == 0 && !s.done && s.err == nil && s.sse.Buffered() {
		s.err = s.read()
	}
	return len(s.pending) > 0
}

// Next returns the next event, io.EOF after message_stop.
func (s *StreamReader) Next() (llm.Event, error) {
	for len(s.pending) == 0 {
		if s.err != nil {
			return llm.Event{}, s.err
		}
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

type streamEvent struct {
	Type    string           `json:"type"`
	Message *messageResponse `json:"message"`
	Index   int              `json:"index"`
	Block   *block           `json:"content_block"`
	Delta   *streamDelta     `json:"delta"`
	Usage   *struct {
		InputTokens              *int `json:"input_tokens"`
		CacheCreationInputTokens *int `json:"cache_creation_input_tokens"`
		CacheReadInputTokens     *int `json:"cache_read_input_tokens"`
		OutputTokens             int  `json:"output_tokens"`
	} `json:"usage"`
	Error *errorObject `json:"error"`
}

type streamDelta struct {
	Type         string  `json:"type"`
	Text         string  `json:"text"`
	PartialJSON  string  `json:"partial_json"`
	StopReason   string  `json:"stop_reason"`
	StopSequence *string `json:"stop_sequence"`
}

// decodeEvent reads an event, a text delta or a ping by the scanner, others by encoding/json.
func decodeEvent(data []byte, ev *streamEvent) error {
	if scanEvent(data, ev) {
		return nil
	}
	*ev = streamEvent{}
	return json.Unmarshal(data, ev)
}

func (s *StreamReader) read() error {
	_, data, err := s.sse.Next()
	if err == io.EOF {
		s.done = true
		if !s.gotFinish {
			return &llm.Error{Status: 502, Type: llm.ErrServer, Message: "the provider's stream ended before message_stop"}
		}
		return nil
	}
	if err != nil {
		return err
	}
	var ev streamEvent
	if err := decodeEvent(data, &ev); err != nil {
		return fmt.Errorf("provider sent a stream event that is not JSON: %w", err)
	}
	s.pending = s.pending[:0]
	switch ev.Type {
	case "message_start":
		if ev.Message == nil {
			return fmt.Errorf("provider sent message_start without a message")
		}
		s.usage = decodeUsage(ev.Message.Usage)
		s.pending = append(s.pending, llm.Event{Kind: llm.EventStart, ID: ev.Message.ID, Model: ev.Message.Model, Usage: s.usage})
	case "content_block_start":
		s.tools[ev.Index] = -1
		if ev.Block != nil && ev.Block.Type == "tool_use" {
			s.tools[ev.Index] = s.nextTool
			s.pending = append(s.pending, llm.Event{Kind: llm.EventToolStart, Index: s.nextTool, ID: ev.Block.ID, Name: ev.Block.Name})
			s.nextTool++
		} else if ev.Block != nil && ev.Block.Type == "text" && ev.Block.Text != nil && *ev.Block.Text != "" {
			s.pending = append(s.pending, llm.Event{Kind: llm.EventText, Text: *ev.Block.Text})
		}
	case "content_block_delta":
		if ev.Delta == nil {
			return nil
		}
		switch ev.Delta.Type {
		case "text_delta":
			s.pending = append(s.pending, llm.Event{Kind: llm.EventText, Text: ev.Delta.Text})
		case "input_json_delta":
			if i, ok := s.tools[ev.Index]; ok && i >= 0 && ev.Delta.PartialJSON != "" {
				s.pending = append(s.pending, llm.Event{Kind: llm.EventToolArgs, Index: i, Text: ev.Delta.PartialJSON})
			}
		}
	case "message_delta":
		if u := ev.Usage; u != nil {
			s.usage.Output = u.OutputTokens
			if u.InputTokens != nil {
				s.usage = decodeUsage(usage{InputTokens: *u.InputTokens, CacheCreationInputTokens: deref(u.CacheCreationInputTokens), CacheReadInputTokens: deref(u.CacheReadInputTokens), OutputTokens: u.OutputTokens})
			}
			s.pending = append(s.pending, llm.Event{Kind: llm.EventUsage, Usage: s.usage})
		}
		if ev.Delta != nil && ev.Delta.StopReason != "" {
			fe := llm.Event{Kind: llm.EventFinish, Finish: finishReason(ev.Delta.StopReason)}
			if ev.Delta.StopSequence != nil {
				fe.StopSequence = *ev.Delta.StopSequence
			}
			s.pending = append(s.pending, fe)
		}
	case "message_stop":
		s.done, s.gotFinish = true, true
	case "error":
		msg := "the provider failed mid-stream"
		typ := llm.ErrServer
		if ev.Error != nil {
			msg = ev.Error.Message
			if ev.Error.Type == "overloaded_error" {
				typ = llm.ErrOverloaded
			}
		}
		return &llm.Error{Status: 502, Type: typ, Message: msg}
	}
	return nil
}

func deref(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
