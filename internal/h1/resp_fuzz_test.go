package h1

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"aya/internal/httpx"
)

// respScriptConn is a net.Conn that reads from a fixed byte string and ends with EOF, so the
// client's real read path (head loop, body readers, chunked decoder) runs without a socket
// and can never block.
type respScriptConn struct{ r io.Reader }

func (c *respScriptConn) Read(p []byte) (int, error)       { return c.r.Read(p) }
func (c *respScriptConn) Write(p []byte) (int, error)      { return len(p), nil }
func (c *respScriptConn) Close() error                     { return nil }
func (c *respScriptConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *respScriptConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *respScriptConn) SetDeadline(time.Time) error      { return nil }
func (c *respScriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *respScriptConn) SetWriteDeadline(time.Time) error { return nil }

// pieceReader hands out at most n bytes per Read, so heads and chunk lines straddle reads.
type pieceReader struct {
	r io.Reader
	n int
}

func (p *pieceReader) Read(b []byte) (int, error) { return p.r.Read(b[:min(len(b), p.n)]) }

// clientRead runs the client's response path over data, delivered piece bytes at a time:
// heads until the final one, then the whole body. ok is false when aya refused the response.
func clientRead(c *Client, data []byte, method string, piece int) (resp *httpx.Response, body []byte, ok bool) {
	cc := c.newClientConn(&respScriptConn{r: &pieceReader{r: bytes.NewReader(data), n: piece}})
	resp = &httpx.Response{}
	req := &httpx.Request{Method: method, Header: httpx.Header{{Name: "Upgrade", Value: "x"}}}
	if _, err := cc.readResponse(req, resp); err != nil {
		return nil, nil, false
	}
	if resp.Status == 101 {
		return resp, nil, true
	}
	cc.body.start(resp)
	body, err := io.ReadAll(&cc.body)
	return resp, body, err == nil
}

// stdReadResponse is net/http's reading of the same bytes, skipping 1xx as the client does.
func stdReadResponse(data []byte, method string) (*http.Response, []byte, error) {
	br := bufio.NewReader(bytes.NewReader(data))
	for {
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			return nil, nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == 101 {
			body, err := io.ReadAll(resp.Body)
			return resp, body, err
		}
	}
}

// FuzzParseResponse feeds arbitrary bytes to the response path. It must never panic or hang,
// and whatever aya accepts, net/http must accept and read the same way: same status, same
// fields, same body, same trailers. (aya may refuse what net/http accepts: it is stricter.)
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\nraw",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\"b\"\r\nabc\r\n0\n\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
	} {
		f.Add([]byte(s), false, uint16(4096))
		f.Add([]byte(s), true, uint16(3))
	}
	c := &Client{MaxHeaderBytes: 8 << 10}
	c.once.Do(c.setup)
	f.Fuzz(func(t *testing.T, data []byte, head bool, piece uint16) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		resp, body, ok := clientRead(c, data, method, 1+int(piece))
		if !ok {
			return
		}
		std, stdBody, err := stdReadResponse(data, method)
		if err != nil {
			t.Fatalf("aya accepted what net/http refuses (%v):\n%q", err, data)
		}
		if std.StatusCode != resp.Status || std.Proto != resp.Proto {
			t.Fatalf("status %d %s, net/http %d %s:\n%q", resp.Status, resp.Proto, std.StatusCode, std.Proto, data)
		}
		if resp.Status == 101 {
			return
		}
		if !bytes.Equal(body, stdBody) {
			t.Fatalf("body %q, net/http %q:\n%q", body, stdBody, data)
		}
		if got, want := respFields(resp.Header, "Transfer-Encoding", "Trailer"), stdRespFields(std.Header, "Transfer-Encoding", "Trailer"); got != want {
			t.Fatalf("header %s, net/http %s:\n%q", got, want, data)
		}
		if got, want := respFields(resp.Trailer), stdRespFields(std.Trailer); got != want {
			t.Fatalf("trailer %s, net/http %s:\n%q", got, want, data)
		}
	})
}

// respFields renders a header as sorted canonical "Name: value" lines, order within a name kept.
func respFields(h httpx.Header, skip ...string) string {
	m := http.Header{}
	for _, f := range h {
		m.Add(f.Name, f.Value)
	}
	return stdRespFields(m, skip...)
}

func stdRespFields(h http.Header, skip ...string) string {
	h = h.Clone()
	for _, s := range skip {
		h.Del(s)
	}
	var sb strings.Builder
	h.Write(&sb)
	return sb.String()
}
