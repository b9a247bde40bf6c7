package llm

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
)

// SSEReader reads Server-Sent Events one at a time from a body as it arrives, never buffering
// more than one event, so a translated stream moves at the provider's pace.
type SSEReader struct {
	r     *bufio.Reader
	event []byte
	data  []byte
}

// maxSSELine bounds one line of an event stream; longer lines are an upstream fault.
const maxSSELine = 4 << 20

// sseBuffer holds a few events of a typical stream (a chunk is a few hundred bytes); a longer
// line is gathered past it (readLine). Every open stream holds one.
const sseBuffer = 4 << 10

// NewSSEReader reads events from r.
func NewSSEReader(r io.Reader) *SSEReader {
	return &SSEReader{r: bufio.NewReaderSize(r, sseBuffer)}
}

// Next returns the next event's name ("" when the stream did not name it) and data (several
// data lines joined by "\n"). The slices are valid until the next call. It returns io.EOF at
// the end of the body; a last event without its blank line is still returned.
func (s *SSEReader) Next() (event, data []byte, err error) {
	s.event, s.data = s.event[:0], s.data[:0]
	seen := false
	for {
		line, err := s.readLine()
		if err != nil {
			if err == io.EOF && seen {
				return s.event, s.data, nil
			}
			return nil, nil, err
		}
		if len(line) == 0 {
			if seen {
				return s.event, s.data, nil
			}
			continue
		}
		if line[0] == ':' {
			continue // a comment (keep-alive)
		}
		field, value, _ := bytes.Cut(line, []byte{':'})
		value = bytes.TrimPrefix(value, []byte{' '})
		switch string(field) {
		case "event":
			s.event = append(s.event[:0], value...)
			seen = true
		case "data":
			if seen && len(s.data) > 0 {
				s.data = append(s.data, '\n')
			}
			s.data = append(s.data, value...)
			seen = true
		}
	}
}

// Buffered reports whether a whole event (up to its blank line) is already buffered, so
// Next will return it without waiting for the body.
func (s *SSEReader) Buffered() bool {
	b, _ := s.r.Peek(s.r.Buffered())
	return bytes.Contains(b, []byte("\n\n")) || bytes.Contains(b, []byte("\n\r\n"))
}

func (s *SSEReader) readLine() ([]byte, error) {
	line, err := s.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		long := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = s.r.ReadSlice('\n')
			long = append(long, line...)
			if len(long) > maxSSELine {
				return nil, fmt.Errorf("event stream line longer than %d bytes", maxSSELine)
			}
		}
		line = long
	}
	if err != nil && !(err == io.EOF && len(line) > 0) {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	return line, nil
}
