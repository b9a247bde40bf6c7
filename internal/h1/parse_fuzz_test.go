package h1

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"aya/internal/httpx"
)

// ayaRead parses one request from in the way the server does (head scanner, parser, framed
// body reader) and returns it with its body, or ok=false when aya refuses it.
func ayaRead(in []byte) (r *httpx.Request, body []byte, ok bool) {
	r = &httpx.Request{}
	var f reqFraming
	used, st, _ := parseHead(in, r, &f)
	if st != 0 {
		return nil, nil, false
	}
	// The path for heads that arrive in pieces must agree exactly.
	var r2 httpx.Request
	var f2 reqFraming
	used2, st2, msg2 := parseGathered(in, &r2, &f2)
	if st2 != 0 || used2 != used || f2.contentLength != f.contentLength || f2.chunked != f.chunked ||
		f2.keepAlive != f.keepAlive || f2.expectContinue != f.expectContinue || !bytes.Equal(f2.authority, f.authority) || !sameRequest(r, &r2) {
		panic(fmt.Sprintf("gathered parse differs: %d %d %s %+v %+v: %q", used2, st2, msg2, f2, r2, in))
	}
	s := &Server{Logger: quietLog}
	s.init()
	c := &conn{srv: s, cfg: &s.cfg, cancel: func() {}}
	c.body.c, c.rw.c = c, c
	c.br = bufio.NewReader(bytes.NewReader(in[used:]))
	c.bw = bufio.NewWriter(io.Discard)
	c.rw.reset(r)
	c.body.reset(&f)
	if f.chunked {
		c.cr.reset(c.br, &r.Trailer, defaultChunkLimits)
	}
	if c.body.mode != bodyNone {
		b, err := io.ReadAll(&c.body)
		if err != nil {
			return nil, nil, false
		}
		body = b
	}
	return r, body, true
}

// FuzzParseRequest checks aya's parser against net/http's: whatever aya accepts, net/http
// must accept too and read the same method, target, host, header values and body. aya may
// refuse more (it is stricter on purpose), never less.
func FuzzParseRequest(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
		"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\n\r\n",
		"GET http://h:8080/x?y HTTP/1.1\r\nHost: other\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"PUT / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
		// Smuggling shapes.
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\n\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\n\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nX: a\r\n Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\nHost: h\n\n",
		"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\nabc",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff1\r\nhello\r\n0\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTrailer: Transfer-Encoding\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
		"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: h\r\nPragma: no-cache\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r, body, ok := ayaRead(in)
		if !ok {
			return
		}
		br := bufio.NewReaderSize(bytes.NewReader(in), len(in)+16)
		want, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("aya accepted what net/http refuses (%v): %q", err, in)
		}
		wantBody, err := io.ReadAll(want.Body)
		if err != nil {
			t.Fatalf("aya read a body net/http cannot (%v): %q", err, in)
		}
		if !bytes.Equal(body, wantBody) {
			t.Fatalf("body %q, net/http %q: %q", body, wantBody, in)
		}
		if r.Method != want.Method || r.Proto != want.Proto || r.Host != want.Host {
			t.Fatalf("method/proto/host %q %q %q, net/http %q %q %q: %q", r.Method, r.Proto, r.Host, want.Method, want.Proto, want.Host, in)
		}
		if want.URL.Scheme == "" {
			if r.Target != want.RequestURI {
				t.Fatalf("target %q, net/http %q: %q", r.Target, want.RequestURI, in)
			}
		} else if !strings.HasSuffix(want.RequestURI, strings.TrimPrefix(r.Target, "/")) || want.URL.Host != r.Host {
			t.Fatalf("absolute target %q host %q, net/http %q: %q", r.Target, r.Host, want.RequestURI, in)
		}
		if r.Target != "*" {
			raw := r.Path
			if r.Query != "" || strings.HasSuffix(r.Target, "?") {
				raw += "?" + r.Query
			}
			if raw != r.Target {
				t.Fatalf("path %q query %q do not make target %q", r.Path, r.Query, r.Target)
			}
		}
		if r.ContentLength != want.ContentLength || r.Close != want.Close {
			t.Fatalf("length %d close %v, net/http %d %v: %q", r.ContentLength, r.Close, want.ContentLength, want.Close, in)
		}
		compareHeaders(t, r, want, in)
	})
}

// compareHeaders checks every field aya kept has the same values, in order, as net/http's
// canonicalized map, allowing for the fields net/http moves elsewhere.
func compareHeaders(t *testing.T, r *httpx.Request, want *http.Request, in []byte) {
	t.Helper()
	got := map[string][]string{}
	for _, f := range r.Header {
		k := http.CanonicalHeaderKey(f.Name)
		switch k {
		case "Host":
			continue // net/http moves it to Request.Host
		case "Transfer-Encoding":
			if !slices.Equal(want.TransferEncoding, []string{"chunked"}) {
				t.Fatalf("aya chunked, net/http TransferEncoding %q: %q", want.TransferEncoding, in)
			}
			continue
		case "Trailer":
			if r.ContentLength == -1 {
				continue // net/http moves it to Request.Trailer
			}
		}
		got[k] = append(got[k], f.Value)
	}
	for k, v := range got {
		if !slices.Equal(v, want.Header[k]) {
			t.Fatalf("header %s = %q, net/http %q: %q", k, v, want.Header[k], in)
		}
	}
	for k := range want.Header {
		if _, ok := got[k]; !ok && k != "Cache-Control" {
			t.Fatalf("net/http has header %s that aya lacks: %q", k, in)
		}
	}
}

func sameRequest(a, b *httpx.Request) bool {
	return a.Method == b.Method && a.Target == b.Target && a.Path == b.Path && a.Query == b.Query &&
		a.Host == b.Host && a.Proto == b.Proto && a.ContentLength == b.ContentLength &&
		a.Close == b.Close && slices.Equal(a.Header, b.Header)
}
