package h1

import (
	"io"
	"time"

	"aya/internal/httpx"
)

// respBody is resp.Body for every response but 101. It reads straight from the connection's
// buffer (a large Read bypasses it), arms the read timeout only when a read may block, and
// decides on Close whether the connection can carry another exchange.
type respBody struct {
	cc      *clientConn
	framing respFraming
	left    int64 // respLength: bytes still to read
	err     error // sticky: io.EOF once the body ended, or the failure
	closed  bool
}

// start prepares the body of the response whose head was just parsed into cc.rh.
func (b *respBody) start(resp *httpx.Response) {
	cc := b.cc
	*b = respBody{cc: cc, framing: cc.rh.framing, left: cc.rh.length}
	switch {
	case b.framing == respNoBody, b.framing == respLength && b.left == 0:
		b.err = io.EOF
	case b.framing == respChunked:
		cc.cr.reset(cc.br, &resp.Trailer, defaultChunkLimits)
	}
}

func (b *respBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errBodyClosed
	}
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	cc := b.cc
	if cc.br.Buffered() == 0 || b.framing == respChunked {
		// A chunked read may need more bytes even when some are buffered (half a size line).
		if err := cc.armRead(time.Now(), cc.c.readTimeout); err != nil {
			return 0, b.fail(err)
		}
	}
	var (
		n   int
		err error
	)
	switch b.framing {
	case respLength:
		if int64(len(p)) > b.left {
			p = p[:b.left]
		}
		n, err = cc.br.Read(p)
		b.left -= int64(n)
		if b.left == 0 {
			b.err = io.EOF
			return n, io.EOF
		}
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
	case respChunked:
		n, err = cc.cr.Read(p)
		if err == io.EOF {
			b.err = io.EOF
			return n, io.EOF
		}
	case respUntilClose:
		n, err = cc.br.Read(p)
		if err == io.EOF {
			b.err = io.EOF
			return n, io.EOF
		}
	}
	if err != nil {
		return n, b.fail(err)
	}
	return n, nil
}

func (b *respBody) fail(err error) error {
	b.err = b.cc.c.classify(b.cc.ctx, "read response body", err, KindReset)
	return b.err
}

// Close ends the exchange. The connection returns to the pool when the body was read to its
// end (or its unread rest is already buffered, and is skipped), the response allows keep-alive
// and the whole request was sent; otherwise it is closed.
func (b *respBody) Close() error {
	if b.closed {
		return nil
	}
	b.closed = true
	cc := b.cc
	if b.err == nil && b.framing == respLength && b.left <= int64(cc.br.Buffered()) {
		cc.br.Discard(int(b.left))
		b.err = io.EOF
	}
	clean := b.err == io.EOF && cc.rh.keepAlive
	if cc.up.running {
		cc.up.join()
		clean = clean && cc.up.sentAll
		cc.c.putBody(cc.up.ob)
		cc.up.ob = nil
	}
	cc.reusable = clean
	cc.release()
	return nil
}
