package h1

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aya/internal/httpx"
)

func TestClientKeepAliveReuse(t *testing.T) {
	var seen []string
	var mu sync.Mutex
	up := newRawUpstream(t, answerEach(func(req *http.Request, body []byte) (string, bool) {
		mu.Lock()
		seen = append(seen, req.Method+" "+req.URL.RequestURI()+" host="+req.Host)
		mu.Unlock()
		return helloReply(req, body)
	}))
	c := newTestClient(up.addr())
	defer c.Close()
	for i := range 20 {
		req := newGetReq("/item")
		req.Query = fmt.Sprintf("n=%d", i)
		resp, body := clientDo(t, c, req)
		if resp.Status != 200 || body != "hello" || resp.Header.Get("x-upstream") != "raw" || resp.ContentLength != 5 || resp.Proto != "HTTP/1.1" {
			t.Fatalf("response %d: %+v %q", i, resp, body)
		}
	}
	if n := up.accepted.Load(); n != 1 {
		t.Errorf("upstream accepted %d connections for 20 sequential requests, want 1", n)
	}
	if c.IdleConns() != 1 || c.ActiveConns() != 0 {
		t.Errorf("idle=%d active=%d, want 1 and 0", c.IdleConns(), c.ActiveConns())
	}
	if len(seen) != 20 || seen[7] != "GET /item?n=7 host=upstream.test" {
		t.Errorf("upstream saw %q", seen)
	}
}

func TestClientWritesHeadAsGiven(t *testing.T) {
	got := make(chan string, 1)
	up := newRawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		var head strings.Builder
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			head.WriteString(line)
			if line == "\r\n" {
				break
			}
		}
		got <- head.String()
		io.WriteString(c, "HTTP/1.1 204 No Content\r\n\r\n")
	})
	c := newTestClient(up.addr())
	defer c.Close()
	req := &httpx.Request{Method: "POST", Path: "/a%20b", Query: "x=1&y", Body: httpx.NoBody, Header: httpx.Header{
		{Name: "Host", Value: "h.test"},
		{Name: "X-Dup", Value: "1"},
		{Name: "x-dup", Value: "2"},
		{Name: "Content-Length", Value: "99"},         // dropped: the client frames
		{Name: "Transfer-Encoding", Value: "chunked"}, // dropped
	}}
	clientDo(t, c, req)
	want := "POST /a%20b?x=1&y HTTP/1.1\r\nHost: h.test\r\nX-Dup: 1\r\nx-dup: 2\r\nContent-Length: 0\r\n\r\n"
	if h := <-got; h != want {
		t.Errorf("wire head\n got %q\nwant %q", h, want)
	}
}

func TestClientRefusesInvalidRequest(t *testing.T) {
	up := newRawUpstream(t, answerEach(helloReply))
	c := newTestClient(up.addr())
	defer c.Close()
	for _, req := range []*httpx.Request{
		{Method: "GET", Path: "/", Header: httpx.Header{{Name: "X", Value: "a\r\nInjected: 1"}}},
		{Method: "GET", Path: "/", Header: httpx.Header{{Name: "Bad Name", Value: "v"}}},
		{Method: "GE T", Path: "/"},
		{Method: "GET", Path: "/a b"},
		{Method: "GET", Path: "nope"},
		{Method: "GET", Path: "/", Query: "a\nb"},
		{Method: "POST", Path: "/", ContentLength: 10, Body: strings.NewReader("short")},
	} {
		err := c.Do(clientTestCtx(t), req, &httpx.Response{})
		if !errors.Is(err, KindRequest) {
			t.Errorf("%s %q %q: err = %v, want KindRequest", req.Method, req.Path, req.Header, err)
		}
	}
	if c.ActiveConns() != 0 {
		t.Errorf("active = %d after refused requests", c.ActiveConns())
	}
	// The connection the refused requests took is still good for a valid one.
	if resp, body := clientDo(t, c, newGetReq("/")); resp.Status != 200 || body != "hello" {
		t.Errorf("valid request after refused ones: %d %q", resp.Status, body)
	}
	if n := up.accepted.Load(); n != 1 {
		t.Errorf("accepted %d connections, want 1: a refused request sends nothing", n)
	}
}

func TestClientResponseFraming(t *testing.T) {
	tests := []struct {
		name, method, reply string
		status              int
		body                string
		cl                  int64
		trailer             httpx.Header
		reused              bool // the next request uses the same connection
	}{
		{name: "content-length", method: "GET", reply: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc", status: 200, body: "abc", cl: 3, reused: true},
		{name: "empty content-length", method: "GET", reply: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", status: 200, cl: 0, reused: true},
		{
			name: "chunked with trailers", method: "GET",
			reply:  "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nX-Sum: 42\r\nGrpc-Status: 0\r\n\r\n",
			status: 200, body: "abcdefg", cl: -1, reused: true,
			trailer: httpx.Header{{Name: "X-Sum", Value: "42"}, {Name: "Grpc-Status", Value: "0"}},
		},
		{name: "close delimited 1.1", method: "GET", reply: "HTTP/1.1 200 OK\r\n\r\nuntil close", status: 200, body: "until close", cl: -1},
		{name: "close delimited 1.0", method: "GET", reply: "HTTP/1.0 200 OK\r\n\r\nold", status: 200, body: "old", cl: -1},
		{name: "1.0 with length is not reused", method: "GET", reply: "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", status: 200, body: "ok", cl: 2},
		{name: "connection close", method: "GET", reply: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, close\r\n\r\nok", status: 200, body: "ok", cl: 2},
		{name: "HEAD keeps the length", method: "HEAD", reply: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n", status: 200, cl: 1000, reused: true},
		{name: "HEAD chunked", method: "HEAD", reply: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", status: 200, cl: -1, reused: true},
		{name: "204", method: "GET", reply: "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", status: 204, cl: 0, reused: true},
		{name: "304", method: "GET", reply: "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n", status: 304, cl: 0, reused: true},
		{name: "interim responses skipped", method: "GET", reply: "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx", status: 201, body: "x", cl: 1, reused: true},
		{name: "no reason phrase", method: "GET", reply: "HTTP/1.1 404\r\nContent-Length: 1\r\n\r\nx", status: 404, body: "x", cl: 1, reused: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := newRawUpstream(t, answerEach(func(req *http.Request, body []byte) (string, bool) {
				if req.URL.Path == "/next" {
					return helloReply(req, body)
				}
				return tt.reply, !strings.HasSuffix(tt.name, "delimited 1.1") && !strings.HasSuffix(tt.name, "delimited 1.0")
			}))
			c := newTestClient(up.addr())
			defer c.Close()
			req := newGetReq("/")
			req.Method = tt.method
			resp, body := clientDo(t, c, req)
			if resp.Status != tt.status || body != tt.body || resp.ContentLength != tt.cl {
				t.Fatalf("got %d %q cl=%d, want %d %q cl=%d", resp.Status, body, resp.ContentLength, tt.status, tt.body, tt.cl)
			}
			if fmt.Sprint(resp.Trailer) != fmt.Sprint(tt.trailer) {
				t.Errorf("trailer = %q, want %q", resp.Trailer, tt.trailer)
			}
			if resp, body := clientDo(t, c, newGetReq("/next")); resp.Status != 200 || body != "hello" {
				t.Fatalf("next request: %d %q", resp.Status, body)
			}
			if n := up.accepted.Load(); (n == 1) != tt.reused {
				t.Errorf("connections = %d, want reuse %v", n, tt.reused)
			}
		})
	}
}

func TestClientMalformedResponses(t *testing.T) {
	for _, reply := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\n\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 OK\r\nContent-Length: 0\r\n\r\n",
		"HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
		"ICY 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\nContent-Length: 0\n\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1, 1\r\n\r\nx",
		"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\nContent-Length: 0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
		strings.Repeat("HTTP/1.1 100 Continue\r\n\r\n", 20) + "HTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("a", 70<<10) + "\r\n\r\n",
	} {
		up := newRawUpstream(t, answerEach(func(*http.Request, []byte) (string, bool) { return reply, true }))
		c := newTestClient(up.addr())
		resp := &httpx.Response{}
		err := c.Do(clientTestCtx(t), newGetReq("/"), resp)
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if !errors.Is(err, KindProtocol) {
			t.Errorf("reply %.60q: err = %v, want KindProtocol", reply, err)
		} else if !strings.Contains(err.Error(), up.addr()) {
			t.Errorf("error %q does not name the upstream", err)
		}
		if c.ActiveConns() != 0 || c.IdleConns() != 0 {
			t.Errorf("reply %.60q: active=%d idle=%d, the connection must be closed", reply, c.ActiveConns(), c.IdleConns())
		}
		c.Close()
	}
}

func TestClientDialRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newTestClient(addr)
	defer c.Close()
	err = c.Do(clientTestCtx(t), newGetReq("/"), &httpx.Response{})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindConnect || !errors.Is(err, KindConnect) || !strings.Contains(err.Error(), addr) {
		t.Fatalf("err = %v, want a KindConnect *Error naming %s", err, addr)
	}
	if c.ActiveConns() != 0 {
		t.Errorf("active = %d", c.ActiveConns())
	}
}

func TestClientDialTimeoutIsConnectAndTimeout(t *testing.T) {
	c := &Client{Addr: "192.0.2.1:80", DialTimeout: 20 * time.Millisecond,
		Dialer: func(ctx context.Context, _, _ string) (net.Conn, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}}
	err := c.Do(context.Background(), newGetReq("/"), &httpx.Response{})
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindConnect || !e.Timeout() {
		t.Fatalf("err = %v, want KindConnect reporting Timeout()", err)
	}
}

func TestClientResponseHeaderTimeout(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	c := newTestClient(up.addr())
	c.ResponseHeaderTimeout = 100 * time.Millisecond
	defer c.Close()
	start := time.Now()
	err := c.Do(context.Background(), newGetReq("/"), &httpx.Response{})
	d := time.Since(start)
	if !errors.Is(err, KindTimeout) || !err.(*Error).Timeout() {
		t.Fatalf("err = %v, want KindTimeout", err)
	}
	if d < 100*time.Millisecond || d > time.Second {
		t.Errorf("timed out after %v, want 100-125ms", d)
	}
	if c.ActiveConns() != 0 || c.IdleConns() != 0 {
		t.Errorf("active=%d idle=%d", c.ActiveConns(), c.IdleConns())
	}
}

func TestClientBodyReadTimeout(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
		io.Copy(io.Discard, c)
	})
	c := newTestClient(up.addr())
	c.ReadTimeout = 100 * time.Millisecond
	defer c.Close()
	resp := &httpx.Response{}
	if err := c.Do(context.Background(), newGetReq("/"), resp); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(b) != "abc" || !errors.Is(err, KindTimeout) {
		t.Fatalf("body %q, err %v; want abc and KindTimeout", b, err)
	}
}

func TestClientTruncatedBody(t *testing.T) {
	for _, reply := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
	} {
		up := newRawUpstream(t, answerEach(func(*http.Request, []byte) (string, bool) { return reply, false }))
		c := newTestClient(up.addr())
		resp := &httpx.Response{}
		if err := c.Do(context.Background(), newGetReq("/"), resp); err != nil {
			t.Fatal(err)
		}
		_, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !errors.Is(err, KindReset) || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("reply %q: err = %v, want KindReset wrapping io.ErrUnexpectedEOF", reply, err)
		}
		c.Close()
	}
}

func TestClientContextCancel(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn) { io.Copy(io.Discard, c) })
	c := newTestClient(up.addr())
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	err := c.Do(ctx, newGetReq("/"), &httpx.Response{})
	if !errors.Is(err, context.Canceled) || !errors.Is(err, KindCanceled) {
		t.Fatalf("err = %v, want KindCanceled wrapping context.Canceled", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("cancel took %v", d)
	}

	ctx, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	err = c.Do(ctx, newGetReq("/"), &httpx.Response{})
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, KindTimeout) {
		t.Fatalf("err = %v, want KindTimeout wrapping context.DeadlineExceeded", err)
	}
	if c.ActiveConns() != 0 || c.IdleConns() != 0 {
		t.Errorf("active=%d idle=%d", c.ActiveConns(), c.IdleConns())
	}
}

func TestClientContextCancelDuringBody(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
		io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
		io.Copy(io.Discard, c)
	})
	c := newTestClient(up.addr())
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	resp := &httpx.Response{}
	if err := c.Do(ctx, newGetReq("/"), resp); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	if n, err := resp.Body.Read(buf); string(buf[:n]) != "first" || err != nil {
		t.Fatalf("first read %q %v", buf[:n], err)
	}
	time.AfterFunc(50*time.Millisecond, cancel)
	_, err := resp.Body.Read(buf)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("read during cancel: %v", err)
	}
	resp.Body.Close()
	if c.ActiveConns() != 0 || c.IdleConns() != 0 {
		t.Errorf("active=%d idle=%d", c.ActiveConns(), c.IdleConns())
	}
}

func TestClientUpgrade(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil || req.Header.Get("Upgrade") != "websocket" {
			return
		}
		// "early" follows the head in the same write: it must reach the caller first.
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\nearly;")
		// Echo until the client half-closes, then say goodbye.
		io.Copy(c, br)
		io.WriteString(c, "bye")
	})
	c := newTestClient(up.addr())
	defer c.Close()
	req := newGetReq("/ws")
	req.Header.Add("Connection", "Upgrade")
	req.Header.Add("Upgrade", "websocket")
	resp := &httpx.Response{}
	if err := c.Do(clientTestCtx(t), req, resp); err != nil {
		t.Fatal(err)
	}
	if resp.Status != 101 || resp.Header.Get("Upgrade") != "websocket" {
		t.Fatalf("status %d header %q", resp.Status, resp.Header)
	}
	rwc, ok := resp.Body.(io.ReadWriteCloser)
	if !ok {
		t.Fatalf("101 body %T is not an io.ReadWriteCloser", resp.Body)
	}
	if _, err := io.WriteString(rwc, "ping"); err != nil {
		t.Fatal(err)
	}
	rwc.(interface{ CloseWrite() error }).CloseWrite()
	got, err := io.ReadAll(rwc)
	if err != nil || string(got) != "early;pingbye" {
		t.Fatalf("tunnel read %q, %v", got, err)
	}
	if c.ActiveConns() != 1 {
		t.Errorf("active = %d while upgraded, want 1", c.ActiveConns())
	}
	rwc.Close()
	rwc.Close()
	if c.ActiveConns() != 0 || c.IdleConns() != 0 {
		t.Errorf("after close: active=%d idle=%d", c.ActiveConns(), c.IdleConns())
	}
	// A plain body is not writable, so a proxy cannot mistake it for a tunnel.
	if _, ok := any(&respBody{}).(io.Writer); ok {
		t.Error("respBody implements io.Writer")
	}
}

func TestClientCloseRefusesNew(t *testing.T) {
	up := newRawUpstream(t, answerEach(helloReply))
	c := newTestClient(up.addr())
	clientDo(t, c, newGetReq("/"))
	// One exchange in flight when Close is called: its connection is closed when it ends.
	resp := &httpx.Response{}
	if err := c.Do(clientTestCtx(t), newGetReq("/"), resp); err != nil {
		t.Fatal(err)
	}
	c.Close()
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if c.IdleConns() != 0 || c.ActiveConns() != 0 {
		t.Errorf("idle=%d active=%d after Close", c.IdleConns(), c.ActiveConns())
	}
	err := c.Do(clientTestCtx(t), newGetReq("/"), &httpx.Response{})
	if !errors.Is(err, ErrClientClosed) || !errors.Is(err, KindConnect) {
		t.Fatalf("Do after Close: %v", err)
	}
}

func TestClientTLS(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "tls:"+r.URL.Path)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	defer srv.Close()
	cfg := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	cfg.NextProtos = nil
	c := newTestClient(srv.Listener.Addr().String())
	c.TLS = cfg
	defer c.Close()
	for i := range 3 {
		resp, body := clientDo(t, c, newGetReq(fmt.Sprintf("/%d", i)))
		if resp.Status != 200 || body != fmt.Sprintf("tls:/%d", i) {
			t.Fatalf("got %d %q", resp.Status, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d TLS connections for 3 requests, want 1", n)
	}

	bad := newTestClient(srv.Listener.Addr().String())
	bad.TLS = &tls.Config{} // trusts no root: the test certificate is refused
	defer bad.Close()
	if err := bad.Do(clientTestCtx(t), newGetReq("/"), &httpx.Response{}); !errors.Is(err, KindConnect) {
		t.Errorf("untrusted certificate: err = %v, want KindConnect", err)
	}
}

func TestClientConcurrent(t *testing.T) {
	up := newRawUpstream(t, answerEach(func(req *http.Request, body []byte) (string, bool) {
		b := req.URL.RawQuery + ":" + string(body)
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(b), b), true
	}))
	c := newTestClient(up.addr())
	c.MaxIdle = 8
	defer c.Close()
	const workers, each = 32, 40
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	cancelable, cancel := context.WithCancel(context.Background())
	defer cancel()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			if w%2 == 1 {
				ctx = cancelable // watched by the client's ctxWatch
			}
			resp := &httpx.Response{}
			buf := make([]byte, 64)
			for i := range each {
				q := fmt.Sprintf("w=%d&i=%d", w, i)
				req := newGetReq("/")
				req.Query = q
				if i%3 == 0 {
					req.Method, req.Body, req.ContentLength = "POST", strings.NewReader("body"), 4
				}
				if err := c.Do(ctx, req, resp); err != nil {
					errs <- err
					return
				}
				n, _ := io.ReadFull(resp.Body, buf[:resp.ContentLength])
				resp.Body.Close()
				want := q + ":"
				if i%3 == 0 {
					want += "body"
				}
				if string(buf[:n]) != want {
					errs <- fmt.Errorf("got %q, want %q", buf[:n], want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if c.ActiveConns() != 0 || c.IdleConns() > 8 {
		t.Errorf("active=%d idle=%d", c.ActiveConns(), c.IdleConns())
	}
	c.watch.mu.Lock()
	if n := len(c.watch.entries); n != 0 {
		t.Errorf("%d exchanges still watched after all ended", n)
	}
	c.watch.mu.Unlock()
}

func TestClientNegativeTimeoutsMeanNone(t *testing.T) {
	up := newRawUpstream(t, answerEach(helloReply))
	c := &Client{Addr: up.addr(), DialTimeout: -1, ResponseHeaderTimeout: -1, ReadTimeout: -1,
		WriteTimeout: -1, IdleTimeout: -1, MaxHeaderBytes: -1}
	defer c.Close()
	for range 2 {
		if resp, body := clientDo(t, c, newGetReq("/")); resp.Status != 200 || body != "hello" {
			t.Fatalf("got %d %q", resp.Status, body)
		}
	}
	if up.accepted.Load() != 1 {
		t.Errorf("accepted %d connections, want 1", up.accepted.Load())
	}
}

// TestClientRequestConnectionClose: a request that says "Connection: close" does not leave its
// connection in the pool, even when the answer does not repeat it.
func TestClientRequestConnectionClose(t *testing.T) {
	up := newRawUpstream(t, answerEach(helloReply))
	c := newTestClient(up.addr())
	defer c.Close()
	req := newGetReq("/")
	req.Header.Add("Connection", "close")
	clientDo(t, c, req)
	if c.IdleConns() != 0 {
		t.Errorf("idle = %d, want 0", c.IdleConns())
	}
}
