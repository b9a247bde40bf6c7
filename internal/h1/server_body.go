package h1

import (
	"fmt"
	"io"
)

type bodyMode uint8

const (
	bodyNone bodyMode = iota
	bodyLength
	bodyChunked
)

// requestBody is the framed request body handed to the handler as Request.Body: exactly
// Content-Length bytes, or a chunked body decoded by the connection's chunkedReader. It lives
// in the conn and is reused for every request.
type requestBody struct {
	c    *conn
	mode bodyMode
	left int64 // bodyLength: bytes still to read
	err  error // sticky: the framing is lost, the connection closes
	eof  bool
	// continueWanted: the client sent "Expect: 100-continue" and waits for our 100 before
	// sending the body; it is sent on the first Read.
	continueWanted bool
}

func (b *requestBody) reset(f *reqFraming) {
	*b = requestBody{c: b.c, continueWanted: f.expectContinue}
	switch {
	case f.chunked:
		b.mode = bodyChunked
	case f.contentLength > 0:
		b.mode, b.left = bodyLength, f.contentLength
	}
}

// done reports whether the whole body has been read (trivially so when there is none).
func (b *requestBody) done() bool { return b.mode == bodyNone || b.eof }

// Read reads the body. The final bytes come with io.EOF, so a reader that stops at the
// length it expects still leaves the connection reusable.
func (b *requestBody) Read(p []byte) (int, error) {
	if b.eof {
		return 0, io.EOF
	}
	if b.err != nil {
		return 0, b.err
	}
	if b.continueWanted {
		b.continueWanted = false
		b.c.rw.sendContinue()
	}
	b.c.phase = phaseBody
	var (
		n   int
		err error
	)
	switch b.mode {
	case bodyLength:
		if len(p) == 0 {
			return 0, nil
		}
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
		n, err = b.c.br.Read(p)
		b.left -= int64(n)
		if b.left == 0 {
			b.eof, err = true, io.EOF
		} else if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	case bodyChunked:
		n, err = b.c.cr.Read(p)
		if err == io.EOF {
			b.eof = true
		}
	default:
		return 0, io.EOF
	}
	if err != nil && err != io.EOF {
		b.err = fmt.Errorf("h1: reading request body from %v: %w", b.c.remote, err)
		b.c.rw.closeAfter = true
		return n, b.err
	}
	return n, err
}

// wontDrain reports, before the response goes out, that the unread body will not be drained
// afterwards, so the response can say "Connection: close".
func (b *requestBody) wontDrain() bool {
	if b.done() {
		return false
	}
	return b.err != nil || b.continueWanted || b.mode == bodyLength && b.left > maxDrain
}

// drain reads and discards what the handler left of the body, up to maxDrain, so the
// connection can serve the next request. It reports whether that worked.
func (b *requestBody) drain() bool {
	if b.done() {
		return true
	}
	if b.wontDrain() {
		// Also when the 100-continue was never sent: the client is holding the body back, and
		// waiting for it would stall; RFC 9110 §10.1.1 lets us close instead.
		return false
	}
	b.continueWanted = false
	b.c.phase = phaseBody
	if b.mode == bodyLength {
		_, err := b.c.br.Discard(int(b.left))
		b.eof = err == nil
		return b.eof
	}
	if b.c.scratch == nil {
		b.c.scratch = make([]byte, 2048)
	}
	for total := 0; total <= maxDrain; {
		n, err := b.Read(b.c.scratch)
		total += n
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}
