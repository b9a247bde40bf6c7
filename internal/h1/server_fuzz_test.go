package h1

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"aya/internal/httpx"
)

// scriptConn is a net.Conn whose reads return fixed pieces and then io.EOF, and whose writes
// always succeed: the server runs its real connection loop, deterministically, with the input
// split exactly where the test says.
type scriptConn struct {
	pieces [][]byte
}

func (c *scriptConn) Read(p []byte) (int, error) {
	for len(c.pieces) > 0 && len(c.pieces[0]) == 0 {
		c.pieces = c.pieces[1:]
	}
	if len(c.pieces) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.pieces[0])
	c.pieces[0] = c.pieces[0][n:]
	return n, nil
}

func (c *scriptConn) Write(p []byte) (int, error) { return len(p), nil }
func (c *scriptConn) Close() error                { return nil }
func (c *scriptConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }
func (c *scriptConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1234}
}
func (c *scriptConn) SetDeadline(time.Time) error      { return nil }
func (c *scriptConn) SetReadDeadline(time.Time) error  { return nil }
func (c *scriptConn) SetWriteDeadline(time.Time) error { return nil }

// served is what a handler saw of one request.
type served struct {
	head    string // method, target, path, query, host, proto, fields
	body    string
	bodyErr bool
	trailer string
}

func describe(r *httpx.Request) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s path=%s query=%s host=%s %s len=%d close=%v\n", r.Method, r.Target, r.Path, r.Query, r.Host, r.Proto, r.ContentLength, r.Close)
	for _, f := range r.Header {
		fmt.Fprintf(&b, "%s: %s\n", f.Name, f.Value)
	}
	return b.String()
}

// serveScript runs one connection over the pieces and returns what the handler saw.
func serveScript(pieces [][]byte) []served {
	var got []served
	s := &Server{Logger: quietLog, Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		sv := served{head: describe(r)}
		b, err := io.ReadAll(r.Body)
		sv.body, sv.bodyErr = string(b), err != nil
		for _, f := range r.Trailer {
			sv.trailer += f.Name + ": " + f.Value + "\n"
		}
		got = append(got, sv)
		io.WriteString(w, "ok")
	})}
	s.ServeConn(&scriptConn{pieces: pieces})
	s.Close()
	return got
}

// FuzzServeConn runs the server's real connection loop over a byte stream delivered whole,
// split in two at any point, and in 7-byte pieces: the requests served must be the same every
// time (the in-place and gathered head paths, body framing and pipelining agree), and the
// first one must be exactly what the parser alone makes of the stream.
func FuzzServeConn(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhelloGET /n HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\nGET /n HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\n\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /2 HTTP/1.0\r\n\r\nGET /3 HTTP/1.1\r\nHost: h\r\n\r\n",
		"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhiGET /n HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nX-Pad: " + strings.Repeat("p", 5000) + "\r\n\r\nGET /n HTTP/1.1\r\nHost: h\r\n\r\n",
	} {
		f.Add([]byte(s), uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, in []byte, split uint16) {
		if len(in) > 16<<10 {
			return
		}
		whole := serveScript([][]byte{bytes.Clone(in)})
		k := int(split) % (len(in) + 1)
		two := serveScript([][]byte{bytes.Clone(in[:k]), bytes.Clone(in[k:])})
		var small [][]byte
		for i := 0; i < len(in); i += 7 {
			small = append(small, bytes.Clone(in[i:min(i+7, len(in))]))
		}
		bits := serveScript(small)
		for name, other := range map[string][]served{"split": two, "7-byte pieces": bits} {
			if len(other) != len(whole) {
				t.Fatalf("%s: %d requests served, whole: %d: %q", name, len(other), len(whole), in)
			}
			for i := range whole {
				if other[i] != whole[i] {
					t.Fatalf("%s: request %d differs:\n%+v\nwhole:\n%+v\ninput %q", name, i, other[i], whole[i], in)
				}
			}
		}

		r, body, ok := ayaRead(in)
		switch {
		case !ok && len(whole) > 0 && !whole[0].bodyErr:
			t.Fatalf("served a request the parser refuses: %+v: %q", whole[0], in)
		case ok && len(whole) == 0:
			t.Fatalf("parser accepts a request the server did not serve: %q", in)
		case ok && (whole[0].head != describe(r) || whole[0].body != string(body)):
			t.Fatalf("served %+v, parser read %q body %q: %q", whole[0], describe(r), body, in)
		}
	})
}

// TestServeScript pins what the connection loop serves for a few streams, so the fuzz target's
// comparisons are known to compare something.
func TestServeScript(t *testing.T) {
	tests := []struct {
		in    string
		paths []string
	}{
		{"GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhiGET /3 HTTP/1.1\r\nHost: h\r\n\r\n", []string{"/1", "/2", "/3"}},
		{"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n", nil},
		{"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\n\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n", []string{"/c"}},
		{"GET /1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\nGET /2 HTTP/1.1\r\nHost: h\r\n\r\n", []string{"/1"}},
	}
	for _, tt := range tests {
		got := serveScript([][]byte{[]byte(tt.in)})
		var paths []string
		for _, g := range got {
			paths = append(paths, strings.Fields(g.head)[1])
		}
		if fmt.Sprint(paths) != fmt.Sprint(tt.paths) {
			t.Errorf("served %q, want %q: %q", paths, tt.paths, tt.in)
		}
	}
}
