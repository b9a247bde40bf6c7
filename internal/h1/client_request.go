package h1

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"aya/internal/httpx"
)

// maxReplayBody is how much of a request body the client keeps so it can send it again on a
// fresh connection when a reused one turns out to be closed. It is also the largest body sent
// without a writer goroutine: one that fits is read whole first (the head and body then leave
// in one write), one that does not is streamed while the response is awaited.
const maxReplayBody = 64 << 10

// maxCoalescedBody is the largest body copied behind the head for a single write; a larger one
// costs a second write rather than a copy.
const maxCoalescedBody = 16 << 10

type reqBodyMode uint8

const (
	reqBodySmall  reqBodyMode = iota + 1 // known length up to maxReplayBody, read whole before sending
	reqBodyStream                        // longer or unknown length, written by an upload goroutine
)

// outBody is a request body on its way: its framing, and its first bytes as read from
// req.Body for a replay. Pooled per Client, only used for requests that have a body.
type outBody struct {
	mode     reqBodyMode
	chunked  bool   // length unknown: sent chunked, with req.Trailer at the end
	length   int64  // the ContentLength, when known
	rec      []byte // the bytes read from req.Body so far, while they fit
	overflow bool   // more than cap(rec) was read: rec no longer holds the start of the body
	consumed int64  // bytes read from req.Body
	eof      bool   // req.Body is exhausted (or length bytes were read)
}

// prepareBody decides how req's body travels and, for a small one, reads it. nil means no body.
func (c *Client) prepareBody(req *httpx.Request) (*outBody, error) {
	cl := req.ContentLength
	switch {
	case cl < -1:
		return nil, c.requestErr(fmt.Errorf("invalid ContentLength %d", cl))
	case cl == 0:
		return nil, nil
	case req.Body == nil || req.Body == httpx.NoBody:
		if cl > 0 {
			return nil, c.requestErr(errBodyShort)
		}
		return nil, nil
	}
	ob := c.bodies.Get().(*outBody)
	*ob = outBody{mode: reqBodyStream, chunked: cl < 0, length: cl, rec: ob.rec[:0]}
	if cl < 0 || cl > maxReplayBody {
		return ob, nil
	}
	ob.mode = reqBodySmall
	ob.rec = ob.rec[:cl]
	if _, err := io.ReadFull(req.Body, ob.rec); err != nil {
		c.putBody(ob)
		if errors.Is(err, io.ErrUnexpectedEOF) || err == io.EOF {
			err = errBodyShort
		}
		return nil, c.requestErr(fmt.Errorf("read request body: %w", err))
	}
	ob.consumed, ob.eof = cl, true
	return ob, nil
}

func (c *Client) putBody(ob *outBody) {
	ob.rec = ob.rec[:0]
	c.bodies.Put(ob)
}

func (c *Client) requestErr(err error) *Error {
	return &Error{Kind: KindRequest, Addr: c.Addr, Op: "write request", Err: err}
}

// appendRequestHead appends req's head as it goes on the wire. Every byte that comes from req
// is checked first, so a rewrite gone wrong cannot inject a line: the inbound parser already
// refused such bytes, but fields can be set by policies after it. closeConn reports a
// "Connection: close" among the fields: the upstream will close after its answer.
func appendRequestHead(b []byte, req *httpx.Request, ob *outBody) (_ []byte, closeConn bool, err error) {
	if !validTokenString(req.Method) {
		return b, false, fmt.Errorf("invalid method %.20q", req.Method)
	}
	if !validRequestTargetPart(req.Path) || (req.Path == "" || req.Path[0] != '/') && req.Path != "*" {
		return b, false, fmt.Errorf("invalid path %.60q: must start with / and hold no spaces or control bytes", req.Path)
	}
	if !validRequestTargetPart(req.Query) {
		return b, false, fmt.Errorf("invalid query %.60q: spaces and control bytes must be percent-encoded", req.Query)
	}
	b = append(b, req.Method...)
	b = append(b, ' ')
	b = append(b, req.Path...)
	if req.Query != "" {
		b = append(b, '?')
		b = append(b, req.Query...)
	}
	b = append(b, " HTTP/1.1\r\n"...)
	for i := range req.Header {
		f := &req.Header[i]
		if isRequestFramingField(f.Name) {
			continue
		}
		if !validTokenString(f.Name) || !validValueString(f.Value) {
			return b, false, fmt.Errorf("invalid header field %.40q: a name must be a token and a value must hold no control bytes", f.Name)
		}
		if len(f.Name) == 10 && equalFoldBytes(f.Name, "connection") && !closeConn {
			closeConn, _ = connectionTokens([]byte(f.Value))
		}
		b = append(b, f.Name...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	switch {
	case ob == nil:
		// RFC 9110 §8.6: a request whose method gives content a meaning says it has none.
		if m := req.Method; m == "POST" || m == "PUT" || m == "PATCH" {
			b = append(b, "Content-Length: 0\r\n"...)
		}
	case ob.chunked:
		b = append(b, "Transfer-Encoding: chunked\r\n"...)
	default:
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, ob.length, 10)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...), closeConn, nil
}

// isRequestFramingField reports whether name is a field the client sets itself from ContentLength.
func isRequestFramingField(name string) bool {
	switch len(name) {
	case 14:
		return equalFoldBytes(name, "content-length")
	case 17:
		return equalFoldBytes(name, "transfer-encoding")
	}
	return false
}

// validRequestTargetPart accepts the bytes a request-target may carry as they are: anything visible,
// obs-text included (nginx passes it on too), but no space, control byte or DEL, and no '#'.
func validRequestTargetPart(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f || c == '#' {
			return false
		}
	}
	return true
}

// writeRequest sends the head, and a small body, when there is no upload goroutine.
func (cc *clientConn) writeRequest(ob *outBody) error {
	if err := cc.armWrite(time.Now(), cc.c.writeTimeout); err != nil {
		return err
	}
	if ob != nil && len(ob.rec) <= maxCoalescedBody {
		cc.wbuf = append(cc.wbuf, ob.rec...)
		ob = nil
	}
	if _, err := cc.conn.Write(cc.wbuf); err != nil {
		return err
	}
	if ob != nil {
		_, err := cc.conn.Write(ob.rec)
		return err
	}
	return nil
}
