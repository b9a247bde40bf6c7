package h1

import "bytes"

// headScanner finds the end of a request head in a byte stream that arrives in pieces, and
// enforces the size limits while doing so, so that a peer can neither make us buffer more than
// the limits nor wait forever on a head that is already invalid (a bare LF, an empty first
// line). It only looks at line ends; parseRequest validates the content.
type headScanner struct {
	maxLine   int // request line, without CRLF
	maxFields int // all header field lines together, CRLFs included
	n         int // bytes of the head seen so far
	lineStart int // offset of the current line
	lineEnd   int // offset just past the request line's CRLF, 0 until it is seen
	lastCR    bool
}

func (s *headScanner) reset(maxLine, maxFields int) {
	*s = headScanner{maxLine: maxLine, maxFields: maxFields}
}

// scan consumes the next bytes of the stream. It returns how many of them belong to the head
// and whether the head is now complete; on a malformed or oversized head it returns the status
// to answer with (used and done are then meaningless).
func (s *headScanner) scan(buf []byte) (used int, done bool, status int, msg string) {
	pos := 0
	for {
		i := bytes.IndexByte(buf[pos:], '\n')
		if i < 0 {
			s.n += len(buf) - pos
			if len(buf) > pos {
				s.lastCR = buf[len(buf)-1] == '\r'
			}
			if st, m := s.checkSize(); st != 0 {
				return 0, false, st, m
			}
			return len(buf), false, 0, ""
		}
		j := pos + i
		cr := s.lastCR
		if j > 0 {
			cr = buf[j-1] == '\r'
		}
		s.n += j - pos + 1
		pos = j + 1
		s.lastCR = false
		if !cr {
			return 0, false, 400, "line ends in a bare LF, CRLF required"
		}
		lineLen := s.n - s.lineStart // including CRLF
		s.lineStart = s.n
		if s.lineEnd == 0 {
			if lineLen == 2 {
				return 0, false, 400, "empty line before the request line"
			}
			s.lineEnd = s.n
		} else if lineLen == 2 {
			return pos, true, 0, ""
		}
		if st, m := s.checkSize(); st != 0 {
			return 0, false, st, m
		}
	}
}

func (s *headScanner) checkSize() (int, string) {
	if s.lineEnd == 0 {
		// Allow for the CRLF not yet seen.
		if s.n > s.maxLine+2 {
			return 414, "request line too long"
		}
		return 0, ""
	}
	if s.lineEnd-2 > s.maxLine {
		return 414, "request line too long"
	}
	if s.n-s.lineEnd > s.maxFields {
		return 431, "request header fields too large"
	}
	return 0, ""
}
