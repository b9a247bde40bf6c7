package h1

import (
	"bufio"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/iotest"

	"aya/internal/httpx"
)

func parseRespHeadString(t testing.TB, method, in string, bufSize int) (*httpx.Response, respHead, error) {
	t.Helper()
	br := bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader(in)), bufSize)
	head, _, err := readRespHead(br, nil, 1024)
	resp := &httpx.Response{}
	var rh respHead
	if err == nil {
		err = parseResponseHead(head, method, resp, &rh)
	}
	return resp, rh, err
}

func TestParseResponseHeadAccepts(t *testing.T) {
	tests := []struct {
		name, method, in string
		status           int
		proto            string
		header           string // fields as name=value;...
		framing          respFraming
		length, cl       int64
		keepAlive        bool
	}{
		{name: "length", method: "GET", in: "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-A: b c \r\n\r\n", status: 200, proto: "HTTP/1.1",
			header: "Content-Length=12;X-A=b c", framing: respLength, length: 12, cl: 12, keepAlive: true},
		{name: "chunked any case", method: "GET", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: Chunked\r\n\r\n", status: 200, proto: "HTTP/1.1",
			header: "Transfer-Encoding=Chunked", framing: respChunked, cl: -1, keepAlive: true},
		{name: "until close", method: "GET", in: "HTTP/1.1 200 OK\r\n\r\n", status: 200, proto: "HTTP/1.1", framing: respUntilClose, cl: -1},
		{name: "1.0", method: "GET", in: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", status: 200, proto: "HTTP/1.0",
			header: "Content-Length=1", framing: respLength, length: 1, cl: 1},
		{name: "close token", method: "GET", in: "HTTP/1.1 200 OK\r\nConnection: Keep-Alive ,\tCLOSE\r\nContent-Length: 0\r\n\r\n", status: 200, proto: "HTTP/1.1",
			header: "Connection=Keep-Alive ,\tCLOSE;Content-Length=0", framing: respLength, cl: 0},
		{name: "HEAD", method: "HEAD", in: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", status: 200, proto: "HTTP/1.1",
			header: "Content-Length=99", framing: respNoBody, cl: 99, keepAlive: true},
		{name: "HEAD no length", method: "HEAD", in: "HTTP/1.1 200 OK\r\n\r\n", status: 200, proto: "HTTP/1.1", framing: respNoBody, cl: -1, keepAlive: true},
		{name: "204 ignores length", method: "GET", in: "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", status: 204, proto: "HTTP/1.1",
			header: "Content-Length=5", framing: respNoBody, keepAlive: true},
		{name: "304", method: "GET", in: "HTTP/1.1 304 Not Modified\r\n\r\n", status: 304, proto: "HTTP/1.1", framing: respNoBody, keepAlive: true},
		{name: "100", method: "POST", in: "HTTP/1.1 100 Continue\r\n\r\n", status: 100, proto: "HTTP/1.1", framing: respNoBody, keepAlive: true},
		{name: "empty reason", method: "GET", in: "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", status: 200, proto: "HTTP/1.1",
			header: "Content-Length=0", framing: respLength, keepAlive: true},
		{name: "no reason", method: "GET", in: "HTTP/1.1 599\r\nContent-Length: 0\r\n\r\n", status: 599, proto: "HTTP/1.1",
			header: "Content-Length=0", framing: respLength, keepAlive: true},
		{name: "obs-text reason and value", method: "GET", in: "HTTP/1.1 200 \xe9t\xe9\r\nX: caf\xe9\r\nContent-Length: 0\r\n\r\n", status: 200, proto: "HTTP/1.1",
			header: "X=caf\xe9;Content-Length=0", framing: respLength, keepAlive: true},
		{name: "empty value", method: "GET", in: "HTTP/1.1 200 OK\r\nX-Empty:\r\nContent-Length: 0\r\n\r\n", status: 200, proto: "HTTP/1.1",
			header: "X-Empty=;Content-Length=0", framing: respLength, keepAlive: true},
		{name: "leading zeros", method: "GET", in: "HTTP/1.1 200 OK\r\nContent-Length: 007\r\n\r\n", status: 200, proto: "HTTP/1.1",
			header: "Content-Length=007", framing: respLength, length: 7, cl: 7, keepAlive: true},
	}
	for _, tt := range tests {
		for _, size := range []int{16, 4096} { // 16: every line spans buffer refills
			t.Run(fmt.Sprintf("%s/buf%d", tt.name, size), func(t *testing.T) {
				resp, rh, err := parseRespHeadString(t, tt.method, tt.in, size)
				if err != nil {
					t.Fatal(err)
				}
				var fields []string
				for _, f := range resp.Header {
					fields = append(fields, f.Name+"="+f.Value)
				}
				if resp.Status != tt.status || resp.Proto != tt.proto || strings.Join(fields, ";") != tt.header {
					t.Errorf("got %d %s %q, want %d %s %q", resp.Status, resp.Proto, fields, tt.status, tt.proto, tt.header)
				}
				if rh.framing != tt.framing || rh.length != tt.length || resp.ContentLength != tt.cl || rh.keepAlive != tt.keepAlive {
					t.Errorf("framing %d length %d cl %d keepAlive %v, want %d %d %d %v",
						rh.framing, rh.length, resp.ContentLength, rh.keepAlive, tt.framing, tt.length, tt.cl, tt.keepAlive)
				}
			})
		}
	}
}

func TestParseResponseHeadRejects(t *testing.T) {
	for _, in := range []string{
		"\r\n",
		"HTTP/1.1 200 OK\n\n",
		"HTTP/1.1 200 OK\r\nX: a\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
		"HTTP/1.1 200 OK\r\r\n\r\n",
		"HTTP/1.1 200 OK \x00\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 099 OK\r\n\r\n",
		"HTTP/1.1 600 OK\r\n\r\n",
		"HTTP/1.1 -20 OK\r\n\r\n",
		"HTTP/1.1  200 OK\r\n\r\n",
		"HTTP/1.2 200 OK\r\n\r\n",
		"HTTP/2 200\r\n\r\n",
		"http/1.1 200 OK\r\n\r\n",
		"HTTP/1.1\t200 OK\r\n\r\n",
		"HTTP/1.1 200OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\n folded: x\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n\tcontinued\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX\t: a\r\n\r\n",
		"HTTP/1.1 200 OK\r\n: a\r\n\r\n",
		"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX(y): a\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\x7fb\r\n\r\n",
		"HTTP/1.1 200 OK\r\n" + strings.Repeat("X: y\r\n", maxResponseFields+1) + "\r\n",
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("v", 2000) + "\r\n\r\n",
	} {
		for _, size := range []int{16, 4096} {
			if _, _, err := parseRespHeadString(t, "GET", in, size); err == nil {
				t.Errorf("accepted %.80q (buffer %d)", in, size)
			} else if !errors.Is(err, errMalformedResponse) && !errors.Is(err, errRespHeadTooLarge) {
				t.Errorf("%.60q: error %v is not a protocol error", in, err)
			}
		}
	}
}

func TestReadRespHeadTruncated(t *testing.T) {
	for _, tt := range []struct {
		in  string
		got bool
	}{{"", false}, {"HTTP/1.1 200 OK\r\n", true}, {"HTTP/1.1 2", true}} {
		_, got, err := readRespHead(bufio.NewReaderSize(strings.NewReader(tt.in), 16), nil, 1024)
		if err == nil || got != tt.got {
			t.Errorf("%q: got=%v err=%v, want got=%v and an error", tt.in, got, err, tt.got)
		}
	}
}

// TestParseResponseHeadStringsAlias checks the zero-copy contract: field strings point into
// the head buffer, so the connection must keep it untouched until the body is closed.
func TestParseResponseHeadStringsAlias(t *testing.T) {
	head := []byte("HTTP/1.1 200 OK\r\nX-Name: value\r\n\r\n")
	resp := &httpx.Response{}
	var rh respHead
	if err := parseResponseHead(head, "GET", resp, &rh); err != nil {
		t.Fatal(err)
	}
	copy(head[len("HTTP/1.1 200 OK\r\nX-Name: "):], "VALUE")
	if resp.Header[0].Value != "VALUE" {
		t.Errorf("value %q does not alias the head buffer", resp.Header[0].Value)
	}
}

func BenchmarkParseResponse(b *testing.B) {
	const head = ("HTTP/1.1 200 OK\r\nServer: nginx/1.27.0\r\nDate: Wed, 25 Nov 2026 22:00:00 GMT\r\n" +
		"Content-Type: application/json; charset=utf-8\r\nContent-Length: 1234\r\nConnection: keep-alive\r\n" +
		"Cache-Control: no-cache, no-store\r\nX-Request-Id: 7f3c9a2e-5b1d-4e8f-9a6b-2c4d8e1f0a3b\r\n" +
		"Vary: Accept-Encoding\r\nSet-Cookie: session=abcdef0123456789; Path=/; HttpOnly\r\n\r\n")
	rd := strings.NewReader(head)
	br := bufio.NewReaderSize(rd, 4096)
	resp := &httpx.Response{Header: make(httpx.Header, 0, 16)}
	var rh respHead
	var buf []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(head)))
	for b.Loop() {
		rd.Reset(head)
		br.Reset(rd)
		h, _, err := readRespHead(br, buf, 64<<10)
		if err != nil {
			b.Fatal(err)
		}
		buf = h
		if err := parseResponseHead(h, "GET", resp, &rh); err != nil {
			b.Fatal(err)
		}
	}
}
