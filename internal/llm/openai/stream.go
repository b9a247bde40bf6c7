package openai

import (
	"fmt"
	"io"
	"strconv"

	"aya/internal/llm"
)

// StreamWriter writes llm stream events to a client as an OpenAI chat.completion.chunk stream:
// data-only SSE, a first chunk with the assistant role, text and tool-call deltas (each
// carrying its index), exactly one chunk with a finish_reason, then (when the client asked
// for it) one usage chunk with empty choices, then data: [DONE].
type StreamWriter struct {
	w            io.Writer
	flush        func() error
	includeUsage bool
	created      int64
	id, model    string
	started      bool
	finish       string
	usage        llm.Usage
	buf          []byte
	ending       bool // End is writing: one flush after the last event
}

// NewStreamWriter writes to w, calling flush after each event (once after the closing ones
// End writes together). includeUsage is the client's
// stream_options.include_usage.
func NewStreamWriter(w io.Writer, flush func() error, includeUsage bool, created int64) *StreamWriter {
	return &StreamWriter{w: w, flush: flush, includeUsage: includeUsage, created: created}
}

// Write sends what ev adds to the answer. Finish and usage are held until End, because
// providers may send them in either order and OpenAI's clients need finish first, usage last.
func (s *StreamWriter) Write(ev llm.Event) error {
	switch ev.Kind {
	case llm.EventStart:
		s.id, s.model = ev.ID, ev.Model
		return s.start()
	case llm.EventText:
		if err := s.start(); err != nil {
			return err
		}
		t := ev.Text
		return s.textChunk("", &t, nil) // not chunk: &t stays on the stack
	case llm.EventToolStart:
		if err := s.start(); err != nil {
			return err
		}
		i, empty := ev.Index, ""
		return s.chunk(delta{ToolCalls: []toolCall{{Index: &i, ID: ev.ID, Type: "function", Function: functionCall{Name: ev.Name, Arguments: &empty}}}}, nil)
	case llm.EventToolArgs:
		i, args := ev.Index, ev.Text
		return s.chunk(delta{ToolCalls: []toolCall{{Index: &i, Function: functionCall{Arguments: &args}}}}, nil)
	case llm.EventFinish:
		s.finish = ev.Finish
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
	empty := ""
	return s.chunk(delta{Role: "assistant", Content: &empty}, nil)
}

// End writes the finish chunk, the usage chunk when asked for, and [DONE].
func (s *StreamWriter) End() error {
	if err := s.start(); err != nil {
		return err
	}
	s.ending = true // the closing events leave together: nothing is awaited between them
	f := finishOr(s.finish)
	if err := s.chunk(delta{}, &f); err != nil {
		return err
	}
	if s.includeUsage {
		u := encodeUsage(s.usage)
		c := chunk{ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model, Choices: []chunkChoice{}, Usage: mustJSON(&u)}
		if err := s.send(mustJSON(&c)); err != nil {
			return err
		}
	}
	if err := s.send([]byte("[DONE]")); err != nil {
		return err
	}
	return s.flush()
}

// Fail ends a stream that broke after it started: OpenAI's SDKs raise an error for a data
// event carrying an error object, so the client sees why instead of a cut connection.
func (s *StreamWriter) Fail(e *llm.Error) error {
	return s.send(EncodeError(e))
}

func (s *StreamWriter) chunk(d delta, finish *string) error {
	if len(d.ToolCalls) == 0 {
		return s.textChunk(d.Role, d.Content, finish)
	}
	c := chunk{
		ID: s.id, Object: "chat.completion.chunk", Created: s.created, Model: s.model,
		Choices: []chunkChoice{{Delta: d, FinishReason: finish, Logprobs: jsonNull}},
	}
	if s.includeUsage {
		c.Usage = jsonNull
	}
	return s.send(mustJSON(&c))
}

// textChunk writes a chunk without tool calls — the role, text and finish chunks, nearly all
// of a stream — by hand, byte for byte as encoding/json writes the chunk type.
func (s *StreamWriter) textChunk(role string, content, finish *string) error {
	b := append(s.buf[:0], `data: {"id":`...)
	b = llm.AppendJSONString(b, s.id)
	b = append(b, `,"object":"chat.completion.chunk","created":`...)
	b = strconv.AppendInt(b, s.created, 10)
	b = append(b, `,"model":`...)
	b = llm.AppendJSONString(b, s.model)
	b = append(b, `,"system_fingerprint":null,"choices":[{"index":0,"delta":{`...)
	if role != "" {
		b = append(b, `"role":`...)
		b = llm.AppendJSONString(b, role)
	}
	if content != nil {
		if role != "" {
			b = append(b, ',')
		}
		b = append(b, `"content":`...)
		b = llm.AppendJSONString(b, *content)
	}
	b = append(b, `},"finish_reason":`...)
	if finish != nil {
		b = llm.AppendJSONString(b, *finish)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"logprobs":null}]`...)
	if s.includeUsage {
		b = append(b, `,"usage":null`...)
	}
	b = append(b, "}\n\n"...)
	s.buf = b
	if _, err := s.w.Write(b); err != nil {
		return err
	}
	return s.flushEvent()
}

func (s *StreamWriter) flushEvent() error {
	if s.ending {
		return nil
	}
	return s.flush()
}

func (s *StreamWriter) send(data []byte) error {
	s.buf = append(s.buf[:0], "data: "...)
	s.buf = append(s.buf, data...)
	s.buf = append(s.buf, "\n\n"...)
	if _, err := s.w.Write(s.buf); err != nil {
		return err
	}
	return s.flushEvent()
}

// StreamReader turns a provider's chat.completion.chunk stream into llm events, one chunk at
// a time as the body delivers them.
type StreamReader struct {
	sse     *llm.SSEReader
	body    io.Closer
	pending []llm.Event
	chunk   chunkIn // reused: its choices slice outlives one chunk
	started bool
	done    bool
	err     error // what a read ahead (Buffered) met, for Next to return
}

// NewStreamReader reads the SSE body of a streamed chat completion; Close closes body.
func NewStreamReader(body io.ReadCloser) *StreamReader {
	return &StreamReader{sse: llm.NewSSEReader(body), body: body}
}

// Next returns the next event, io.EOF after [DONE] (or the end of the body).
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

// Buffered reports whether Next will return an event without waiting for the provider: one
// is decoded and waiting, or a whole chunk with one is buffered (it is decoded now, since a
// chunk may carry no event). The end of the stream or a failure is not an event: the writer
// flushes what it wrote before it ends the stream. The client's copy of the stream can then be flushed
// after the next event instead: a burst leaves in one write, and nothing waits unflushed
// while aya waits for the provider.
func (s *StreamReader) Buffered() bool {
	for len(s.pending) == 0 && !s.done && s.err == nil && s.sse.Buffered() {
		s.err = s.read()
	}
	return len(s.pending) > 0
}

// Close releases the provider's body.
func (s *StreamReader) Close() error { return s.body.Close() }

func (s *StreamReader) read() error {
	_, data, err := s.sse.Next()
	if err == io.EOF {
		s.done = true
		return nil
	}
	if err != nil {
		return err
	}
	if string(data) == "[DONE]" {
		s.done = true
		return nil
	}
	c := &s.chunk
	choices := c.Choices[:cap(c.Choices)]
	clear(choices) // nothing of the last chunk may show through
	*c = chunkIn{chunk: chunk{Choices: choices[:0]}}
	if err := decodeChunk(data, c, !s.started); err != nil {
		return fmt.Errorf("provider sent a stream chunk that is not JSON: %w", err)
	}
	if c.Error != nil {
		return &llm.Error{Status: 502, Type: llm.ErrServer, Message: c.Error.Message}
	}
	s.pending = s.pending[:0]
	if !s.started {
		s.started = true
		s.pending = append(s.pending, llm.Event{Kind: llm.EventStart, ID: c.ID, Model: c.Model})
	}
	for _, ch := range c.Choices {
		if ch.Index != 0 {
			continue
		}
		if ch.Delta.Content != nil && *ch.Delta.Content != "" {
			s.pending = append(s.pending, llm.Event{Kind: llm.EventText, Text: *ch.Delta.Content})
		}
		for _, tc := range ch.Delta.ToolCalls {
			idx := 0
			if tc.Index != nil {
				idx = *tc.Index
			}
			if tc.ID != "" || tc.Function.Name != "" {
				s.pending = append(s.pending, llm.Event{Kind: llm.EventToolStart, Index: idx, ID: tc.ID, Name: tc.Function.Name})
			}
			if a := tc.Function.Arguments; a != nil && *a != "" {
				s.pending = append(s.pending, llm.Event{Kind: llm.EventToolArgs, Index: idx, Text: *a})
			}
		}
		if ch.FinishReason != nil && *ch.FinishReason != "" {
			s.pending = append(s.pending, llm.Event{Kind: llm.EventFinish, Finish: *ch.FinishReason})
		}
	}
	if c.Usage != nil {
		s.pending = append(s.pending, llm.Event{Kind: llm.EventUsage, Usage: decodeUsage(c.Usage)})
	}
	return nil
}
