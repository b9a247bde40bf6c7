package h1

import (
	"strings"
	"testing"

	"aya/internal/httpx"
)

var testLimits = headLimits{maxLine: srvMaxRequestLineBytes, maxHeaderBytes: srvMaxHeaderBytes, maxFields: srvMaxHeaderCount}

// parseHead parses a request head from in as the server does when it arrived in one read;
// status -1 means in ends before the head does.
func parseHead(in []byte, r *httpx.Request, f *reqFraming) (used, status int, msg string) {
	n, st, msg := parseRequest(in, r, &testLimits, f)
	if st != 0 {
		return 0, st, msg
	}
	if n == 0 {
		return 0, -1, "incomplete head"
	}
	return n, 0, ""
}

// parseGathered parses in the way the server does when a head arrives in pieces: the scanner
// finds its end, then the parser reads exactly that.
func parseGathered(in []byte, r *httpx.Request, f *reqFraming) (used, status int, msg string) {
	var s headScanner
	s.reset(testLimits.maxLine, testLimits.maxHeaderBytes)
	used, done, st, msg := s.scan(in)
	if st != 0 {
		return 0, st, msg
	}
	if !done {
		return 0, -1, "incomplete head"
	}
	n, st, msg := parseRequest(in[:used], r, &testLimits, f)
	if st == 0 && n != used {
		return 0, 400, "scanner and parser disagree"
	}
	return used, st, msg
}

func TestParseRequestAccepts(t *testing.T) {
	tests := []struct {
		name, in                          string
		method, target, path, query, host string
		length                            int64
		close                             bool
		expect                            bool
	}{
		{name: "simple", in: "GET / HTTP/1.1\r\nHost: h\r\n\r\n", method: "GET", target: "/", path: "/", host: "h"},
		{name: "query", in: "GET /a/b?x=1&y HTTP/1.1\r\nHost: h:80\r\n\r\n", method: "GET", target: "/a/b?x=1&y", path: "/a/b", query: "x=1&y", host: "h:80"},
		{name: "empty query", in: "GET /a? HTTP/1.1\r\nHost: h\r\n\r\n", method: "GET", target: "/a?", path: "/a", host: "h"},
		{name: "escapes", in: "GET /%2F%41?%zz HTTP/1.1\r\nHost: h\r\n\r\n", method: "GET", target: "/%2F%41?%zz", path: "/%2F%41", query: "%zz", host: "h"},
		{name: "absolute", in: "GET http://Example.com:8080/p?q HTTP/1.1\r\nHost: other\r\n\r\n", method: "GET", target: "/p?q", path: "/p", query: "q", host: "Example.com:8080"},
		{name: "absolute no path", in: "GET HTTPS://e.com HTTP/1.1\r\nHost: e.com\r\n\r\n", method: "GET", target: "/", path: "/", host: "e.com"},
		{name: "absolute query only", in: "GET http://e.com?q=1 HTTP/1.1\r\nHost: e.com\r\n\r\n", method: "GET", target: "/?q=1", path: "/", query: "q=1", host: "e.com"},
		{name: "ipv6 host", in: "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", method: "GET", target: "/", path: "/", host: "[::1]:8080"},
		{name: "empty host", in: "GET / HTTP/1.1\r\nHost:\r\n\r\n", method: "GET", target: "/", path: "/"},
		{name: "options asterisk", in: "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", method: "OPTIONS", target: "*", path: "*", host: "h"},
		{name: "http/1.0 no host", in: "GET / HTTP/1.0\r\n\r\n", method: "GET", target: "/", path: "/", close: true},
		{name: "http/1.0 keep-alive", in: "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", method: "GET", target: "/", path: "/"},
		{name: "connection close list", in: "GET / HTTP/1.1\r\nHost: h\r\nConnection: foo, close\r\n\r\n", method: "GET", target: "/", path: "/", host: "h", close: true},
		{name: "length", in: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0012\r\n\r\n", method: "POST", target: "/", path: "/", host: "h", length: 12},
		{name: "duplicate same length", in: "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\ncontent-length:3 \r\n\r\n", method: "POST", target: "/", path: "/", host: "h", length: 3},
		{name: "chunked", in: "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: Chunked \r\n\r\n", method: "POST", target: "/", path: "/", host: "h", length: -1},
		{name: "expect", in: "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n", method: "PUT", target: "/", path: "/", host: "h", length: 1, expect: true},
		{name: "expect without body", in: "PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n", method: "PUT", target: "/", path: "/", host: "h"},
		{name: "expect 1.0 ignored", in: "PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", method: "PUT", target: "/", path: "/", length: 1, close: true},
		{name: "obs-text value", in: "GET / HTTP/1.1\r\nHost: h\r\nX: caf\xc3\xa9\t\r\n\r\n", method: "GET", target: "/", path: "/", host: "h"},
		{name: "trailer decl", in: "POST / HTTP/1.1\r\nHost: h\r\nTrailer: X-Sum, Grpc-Status\r\nTransfer-Encoding: chunked\r\n\r\n", method: "POST", target: "/", path: "/", host: "h", length: -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r httpx.Request
			var f reqFraming
			if _, st, msg := parseGathered([]byte(tt.in), &r, &f); st != 0 {
				t.Fatalf("gathered: rejected with %d: %s", st, msg)
			}
			r = httpx.Request{}
			if _, st, msg := parseHead([]byte(tt.in), &r, &f); st != 0 {
				t.Fatalf("rejected with %d: %s", st, msg)
			}
			if r.Method != tt.method || r.Target != tt.target || r.Path != tt.path || r.Query != tt.query || r.Host != tt.host {
				t.Errorf("got %q %q path %q query %q host %q", r.Method, r.Target, r.Path, r.Query, r.Host)
			}
			if r.ContentLength != tt.length || r.Close != tt.close || f.expectContinue != tt.expect {
				t.Errorf("length %d close %v expect %v", r.ContentLength, r.Close, f.expectContinue)
			}
		})
	}
}

// TestParseRequestRejects lists each refusal and its status. The same inputs are fuzz seeds.
func TestParseRequestRejects(t *testing.T) {
	for _, tt := range rejectCases {
		t.Run(tt.name, func(t *testing.T) {
			for _, parse := range []func([]byte, *httpx.Request, *reqFraming) (int, int, string){parseHead, parseGathered} {
				var r httpx.Request
				var f reqFraming
				_, st, msg := parse([]byte(tt.in), &r, &f)
				if st != tt.status {
					t.Fatalf("status %d (%s), want %d", st, msg, tt.status)
				}
			}
		})
	}
}

var rejectCases = []struct {
	name, in string
	status   int
}{
	{"CL and TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"TE and CL", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
	{"different CLs", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n", 400},
	{"CL list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,5\r\n\r\n", 400},
	{"CL empty", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length:\r\n\r\n", 400},
	{"CL negative", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: -1\r\n\r\n", 400},
	{"CL hex", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 0x10\r\n\r\n", 400},
	{"CL inner space", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1 0\r\n\r\n", 400},
	{"CL 2^63", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9223372036854775808\r\n\r\n", 400},
	{"TE xchunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 501},
	{"TE gzip", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
	{"TE chunked-false", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked-false\r\n\r\n", 501},
	{"TE list", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400},
	{"TE empty", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n\r\n", 400},
	{"TE twice", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"TE quoted", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: \"chunked\"\r\n\r\n", 501},
	{"TE HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"TE space before colon", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n", 400},
	{"TE tab before colon", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding\t: chunked\r\n\r\n", 400},
	{"TE vertical tab", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\x0bchunked\r\n\r\n", 400},
	{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n", 400},
	{"obs-fold first", "GET / HTTP/1.1\r\n Host: h\r\n\r\n", 400},
	{"bare LF request line", "GET / HTTP/1.1\nHost: h\r\n\r\n", 400},
	{"bare LF header", "GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", 400},
	{"bare LF end", "GET / HTTP/1.1\r\nHost: h\r\n\n", 400},
	{"bare CR", "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", 400},
	{"NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x00\r\n\r\n", 400},
	{"DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f\r\n\r\n", 400},
	{"no colon", "GET / HTTP/1.1\r\nHost: h\r\nX\r\n\r\n", 400},
	{"empty name", "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", 400},
	{"name with slash", "GET / HTTP/1.1\r\nHost: h\r\nX/Y: v\r\n\r\n", 400},
	{"no host", "GET / HTTP/1.1\r\n\r\n", 400},
	{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400},
	{"host userinfo", "GET / HTTP/1.1\r\nHost: u@h\r\n\r\n", 400},
	{"host path", "GET / HTTP/1.1\r\nHost: h/x\r\n\r\n", 400},
	{"host bad port", "GET / HTTP/1.1\r\nHost: h:8a\r\n\r\n", 400},
	{"host empty port", "GET / HTTP/1.1\r\nHost: h:\r\n\r\n", 400},
	{"host two colons", "GET / HTTP/1.1\r\nHost: h:1:2\r\n\r\n", 400},
	{"host ipv4 literal", "GET / HTTP/1.1\r\nHost: [1.2.3.4]\r\n\r\n", 400},
	{"host zone", "GET / HTTP/1.1\r\nHost: [fe80::1%25en0]\r\n\r\n", 400},
	{"method bad", "GE(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"method empty", " / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"two spaces", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"trailing space", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", 400},
	{"tab separator", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"no version", "GET /\r\nHost: h\r\n\r\n", 400},
	{"version 1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", 505},
	{"version 2", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
	{"h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
	{"version garbage", "GET / HTTP/1.1x\r\nHost: h\r\n\r\n", 400},
	{"version lower", "GET / Http/1.1\r\nHost: h\r\n\r\n", 400},
	{"target space", "GET /a b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"target control", "GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"target non-ascii", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"target fragment", "GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"target bad escape", "GET /a%2 HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"target relative", "GET a HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"target asterisk GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"target ftp", "GET ftp://h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"target userinfo", "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"target empty authority", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"CONNECT", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 501},
	{"expect other", "PUT / HTTP/1.1\r\nHost: h\r\nExpect: something\r\n\r\n", 417},
	{"trailer decl CL", "POST / HTTP/1.1\r\nHost: h\r\nTrailer: Content-Length\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
	{"empty line first", "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	{"request line too long", "GET /" + strings.Repeat("a", srvMaxRequestLineBytes) + " HTTP/1.1\r\nHost: h\r\n\r\n", 414},
	{"headers too large", "GET / HTTP/1.1\r\nHost: h\r\nX: " + strings.Repeat("a", srvMaxHeaderBytes) + "\r\n\r\n", 431},
	{"too many fields", "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X: y\r\n", srvMaxHeaderCount) + "\r\n", 431},
}

// TestHeadScannerPieces feeds heads byte by byte: the scanner must find the same end, and
// reject a bare LF as soon as it arrives rather than wait for more bytes.
func TestParseRequestIncomplete(t *testing.T) {
	full := "POST /p?q HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nX: a\tb\r\n\r\n"
	for i := 0; i < len(full); i++ {
		var r httpx.Request
		var f reqFraming
		if n, st, msg := parseRequest([]byte(full[:i]), &r, &testLimits, &f); n != 0 || st != 0 {
			t.Fatalf("prefix of %d bytes: n=%d status %d (%s)", i, n, st, msg)
		}
	}
	var r httpx.Request
	var f reqFraming
	if n, st, _ := parseRequest([]byte(full+"abc"), &r, &testLimits, &f); n != len(full) || st != 0 {
		t.Fatalf("full head: n=%d status %d", n, st)
	}
}

func TestHeadScannerPieces(t *testing.T) {
	head := "GET / HTTP/1.1\r\nHost: h\r\nX: y\r\n\r\n"
	var s headScanner
	s.reset(100, 100)
	for i := 0; i < len(head); i++ {
		used, done, st, _ := s.scan([]byte{head[i]})
		if st != 0 || used != 1 || done != (i == len(head)-1) {
			t.Fatalf("byte %d: used %d done %v status %d", i, used, done, st)
		}
	}
	s.reset(100, 100)
	for i, c := range []byte("GET / HTTP/1.1\r\nHost: h\n") {
		_, _, st, _ := s.scan([]byte{c})
		if st != 0 {
			if i != 23 {
				t.Fatalf("bare LF reported at byte %d", i)
			}
			return
		}
	}
	t.Fatal("bare LF not reported")
}

// TestHeadScannerLimits: the request line limit gives 414 before its end arrives, the field
// limit 431.
func TestHeadScannerLimits(t *testing.T) {
	var s headScanner
	s.reset(10, 20)
	if _, _, st, _ := s.scan([]byte("GET /0123456789")); st != 414 {
		t.Errorf("long line without end: %d", st)
	}
	s.reset(10, 20)
	if _, _, st, _ := s.scan([]byte("GET / HTTP/1.1\r\n")); st != 414 {
		t.Errorf("long line: %d", st)
	}
	s.reset(20, 20)
	if _, _, st, _ := s.scan([]byte("GET / HTTP/1.1\r\nX: 0123456789012345678")); st != 431 {
		t.Errorf("long fields: %d", st)
	}
}

func BenchmarkParseRequest(b *testing.B) {
	in := []byte("GET /api/v1/users/12345?fields=name,email&limit=10 HTTP/1.1\r\n" +
		"Host: api.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\n" +
		"Accept: application/json\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\n" +
		"Accept-Language: en-US,en;q=0.9\r\n" +
		"Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abc\r\n" +
		"Connection: keep-alive\r\n" +
		"X-Request-Id: 7f3c2a9e-1b4d-4e8f-9a2c-5d6e7f8a9b0c\r\n\r\n")
	var r httpx.Request
	var f reqFraming
	hdr := make(httpx.Header, 0, 32)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		r = httpx.Request{Header: hdr[:0]}
		if _, st, msg := parseHead(in, &r, &f); st != 0 {
			b.Fatal(msg)
		}
	}
}
