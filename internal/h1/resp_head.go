package h1

// Reading and parsing an upstream's response head (RFC 9112 §4 and §6.3), as strictly as the
// server parses requests: a proxy that frames a response differently from the next hop is as
// exposed to smuggling as one that frames requests differently.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"

	"aya/internal/httpx"
)

// errMalformedResponse marks a response head that breaks the grammar or its framing rules.
var errMalformedResponse = errors.New("malformed response")

// maxResponseFields bounds the field lines of one response head; the byte limit is the real
// guard, this one keeps a head of tiny lines from growing resp.Header without end.
const maxResponseFields = 256

// respFraming is how the body that follows a response head is delimited.
type respFraming uint8

const (
	respNoBody     respFraming = iota // no body: HEAD, 1xx, 204, 304
	respLength                        // Content-Length bytes
	respChunked                       // chunked transfer coding
	respUntilClose                    // everything until the upstream closes
)

// respHead is what the parser learned beyond what it stores in the httpx.Response.
type respHead struct {
	framing respFraming
	length  int64 // respLength: bytes to read
	// keepAlive: the connection may carry another exchange after this one (HTTP/1.1, no
	// "Connection: close", and the body has its own framing).
	keepAlive bool
}

// readRespHead reads one response head, status line to the empty line, into buf (reused) and
// returns it. got reports whether any byte arrived, which tells a connection the upstream had
// already closed (nothing) from one that broke mid-response. A head may span many reads and
// buffer refills; max bounds its size. It scans what is buffered line by line with
// IndexByte and copies the head out in one piece, leaving the body bytes behind in br.
func readRespHead(br *bufio.Reader, buf []byte, max int) (head []byte, got bool, err error) {
	buf = buf[:0]
	lineStart := 0 // offset in the head of the line being scanned
	for {
		if br.Buffered() == 0 {
			if _, err := br.Peek(1); err != nil {
				return buf, len(buf) > 0, err
			}
		}
		b, _ := br.Peek(br.Buffered())
		base := len(buf) // offset in the head of b[0]
		for i := 0; ; {
			j := bytes.IndexByte(b[i:], '\n')
			if j < 0 {
				break
			}
			nl := base + i + j
			// A line that is only CRLF (or a bare LF, which the parser then refuses) ends the
			// head; stopping at the bare LF too means a malformed head fails now instead of
			// waiting for bytes that will never come.
			if n := nl - lineStart; n == 0 || n == 1 && byteAt(buf, b, base, lineStart) == '\r' {
				if nl+1 > max {
					return buf, true, fmt.Errorf("%w: more than %d bytes", errRespHeadTooLarge, max)
				}
				buf = append(buf, b[:i+j+1]...)
				br.Discard(i + j + 1)
				return buf, true, nil
			}
			lineStart = nl + 1
			i += j + 1
		}
		if base+len(b) > max {
			return buf, true, fmt.Errorf("%w: more than %d bytes", errRespHeadTooLarge, max)
		}
		buf = append(buf, b...)
		br.Discard(len(b))
	}
}

// byteAt returns the head's byte at offset off, which is in buf (already copied) or in b
// (buffered, starting at offset base).
func byteAt(buf, b []byte, base, off int) byte {
	if off < base {
		return buf[off]
	}
	return b[off-base]
}

// parseResponseHead parses a complete head (as readRespHead returns it) into resp and h. The
// strings stored in resp point into head, which must not change while they are in use.
// reqMethod decides whether a body follows (never after HEAD).
func parseResponseHead(head []byte, reqMethod string, resp *httpx.Response, h *respHead) error {
	line, rest, ok := respLine(head)
	if !ok {
		return fmt.Errorf("%w: status line does not end in CRLF", errMalformedResponse)
	}
	http11, err := parseStatusLine(line, resp)
	if err != nil {
		return err
	}

	var (
		clSeen, teSeen, closeTok bool
		length                   int64
	)
	resp.Header = resp.Header[:0]
	for {
		line, rest, ok = respLine(rest)
		if !ok {
			return fmt.Errorf("%w: header line does not end in CRLF", errMalformedResponse)
		}
		if len(line) == 0 {
			break
		}
		if len(resp.Header) == maxResponseFields {
			return fmt.Errorf("%w: more than %d header fields", errMalformedResponse, maxResponseFields)
		}
		name, value, ok := splitField(line)
		if !ok {
			// Covers obs-fold (a line starting with whitespace), whitespace before the colon,
			// a missing colon and control bytes in the value: RFC 9112 §5.2 lets a proxy
			// reject the first, and the others are refused everywhere.
			return fmt.Errorf("%w: invalid header line %.60q", errMalformedResponse, line)
		}
		switch len(name) {
		case 10:
			if equalFoldBytes(name, "connection") {
				if c, _ := connectionTokens(value); c {
					closeTok = true
				}
			}
		case 14:
			if equalFoldBytes(name, "content-length") {
				if clSeen {
					return fmt.Errorf("%w: more than one Content-Length", errMalformedResponse)
				}
				clSeen = true
				if length, ok = parseContentLength(value); !ok {
					return fmt.Errorf("%w: invalid Content-Length %.30q", errMalformedResponse, value)
				}
			}
		case 17:
			if equalFoldBytes(name, "transfer-encoding") {
				if teSeen || !equalFoldBytes(value, "chunked") {
					// Anything but exactly one "chunked" (gzip, chunked; a repeated field;
					// chunked not last) is a coding aya does not forward.
					return fmt.Errorf("%w: unsupported Transfer-Encoding %.30q", errMalformedResponse, value)
				}
				teSeen = true
			}
		}
		resp.Header = append(resp.Header, httpx.Field{Name: b2s(name), Value: b2s(value)})
	}
	if len(rest) != 0 {
		return fmt.Errorf("%w: bytes after the end of the head", errMalformedResponse)
	}
	if clSeen && teSeen {
		return fmt.Errorf("%w: both Content-Length and Transfer-Encoding (a smuggling vector)", errMalformedResponse)
	}
	if teSeen && !http11 {
		return fmt.Errorf("%w: Transfer-Encoding in an HTTP/1.0 response", errMalformedResponse)
	}

	*h = respHead{keepAlive: http11 && !closeTok}
	switch st := resp.Status; {
	case reqMethod == "HEAD":
		h.framing = respNoBody
		resp.ContentLength = -1
		if clSeen {
			resp.ContentLength = length
		}
	case st < 200 || st == 204 || st == 304:
		h.framing = respNoBody
		resp.ContentLength = 0
	case teSeen:
		h.framing = respChunked
		resp.ContentLength = -1
	case clSeen:
		h.framing = respLength
		h.length = length
		resp.ContentLength = length
	default:
		h.framing = respUntilClose
		h.keepAlive = false
		resp.ContentLength = -1
	}
	return nil
}

// parseStatusLine parses "HTTP/1.x SP 3DIGIT SP reason". The reason phrase may be empty and
// its leading space missing, which is common and harmless.
func parseStatusLine(line []byte, resp *httpx.Response) (http11 bool, err error) {
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' {
		return false, fmt.Errorf("%w: invalid status line %.40q", errMalformedResponse, line)
	}
	switch line[7] {
	case '1':
		resp.Proto, http11 = "HTTP/1.1", true
	case '0':
		resp.Proto = "HTTP/1.0"
	default:
		return false, fmt.Errorf("%w: unsupported version in status line %.40q", errMalformedResponse, line)
	}
	d0, d1, d2 := line[9]-'0', line[10]-'0', line[11]-'0'
	if d0 < 1 || d0 > 5 || d1 > 9 || d2 > 9 {
		return false, fmt.Errorf("%w: invalid status code in %.40q", errMalformedResponse, line)
	}
	resp.Status = int(d0)*100 + int(d1)*10 + int(d2)
	if len(line) > 12 && (line[12] != ' ' || !validValue(line[13:])) {
		return false, fmt.Errorf("%w: invalid status line %.40q", errMalformedResponse, line)
	}
	return http11, nil
}

// respLine splits off the first CRLF-terminated line; a bare LF makes it fail. A CR anywhere
// else is refused by the token and value checks every part of a line goes through.
func respLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, nil, false
	}
	return b[:i-1], b[i+1:], true
}
