package h1

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"aya/internal/httpx"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// serveTest serves s on a fresh 127.0.0.1 port and returns its address; the server is
// closed when the test ends.
func serveTest(t testing.TB, s *Server) string {
	t.Helper()
	if s.Logger == nil {
		s.Logger = quietLog
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		s.Close()
		select {
		case err := <-done:
			if !errors.Is(err, ErrServerClosed) {
				t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
	return ln.Addr().String()
}

// rawConn is a raw client connection that reads responses with net/http's parser, which
// doubles as a check that our responses are well-formed.
type rawConn struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawConn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawConn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *rawConn) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// read reads one response to a request with the given method and its whole body.
func (c *rawConn) read(method string) (*http.Response, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		c.t.Fatalf("reading response: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading response body: %v", err)
	}
	return resp, string(b)
}

// expectClosed checks the server closes the connection (EOF or reset) without sending more.
func (c *rawConn) expectClosed() {
	c.t.Helper()
	c.nc.SetReadDeadline(time.Now().Add(3 * time.Second))
	b, err := c.br.ReadByte()
	if err == nil {
		rest, _ := c.br.Peek(c.br.Buffered())
		c.t.Fatalf("connection still open, got %q", append([]byte{b}, rest...))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.t.Fatal("connection still open after 3s")
	}
}

func helloHandler(w httpx.ResponseWriter, r *httpx.Request) {
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, "hello "+r.Path)
}

func TestServeKeepAlive(t *testing.T) {
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(helloHandler)})
	c := dialRaw(t, addr)
	for i := range 3 {
		c.send("GET /a?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
		resp, body := c.read("GET")
		if resp.StatusCode != 200 || body != "hello /a" {
			t.Fatalf("request %d: %d %q", i, resp.StatusCode, body)
		}
		if resp.ContentLength != int64(len(body)) || resp.Close || resp.Header.Get("Date") == "" {
			t.Fatalf("request %d: length %d, close %v, header %v", i, resp.ContentLength, resp.Close, resp.Header)
		}
	}
}

func TestServeRequestFields(t *testing.T) {
	got := make(chan httpx.Request, 1)
	addr := serveTest(t, &Server{Listener: "web", Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		cp := *r
		cp.Header = nil
		for _, f := range r.Header {
			cp.Header = append(cp.Header, httpx.Field{Name: strings.Clone(f.Name), Value: strings.Clone(f.Value)})
		}
		cp.Method, cp.Target, cp.Path, cp.Query, cp.Host = strings.Clone(r.Method), strings.Clone(r.Target), strings.Clone(r.Path), strings.Clone(r.Query), strings.Clone(r.Host)
		if r.Context() == nil || r.Body == nil {
			t.Error("nil context or body")
		}
		got <- cp
	})})
	c := dialRaw(t, addr)
	c.send("DELETE /p/%41?q=1&r HTTP/1.1\r\nHost: example.com:8080\r\nX-A: 1\r\nx-a:  2 \r\n\r\n")
	c.read("DELETE")
	r := <-got
	if r.Method != "DELETE" || r.Target != "/p/%41?q=1&r" || r.Path != "/p/%41" || r.Query != "q=1&r" ||
		r.Host != "example.com:8080" || r.Proto != "HTTP/1.1" || r.Listener != "web" || r.ContentLength != 0 {
		t.Errorf("request = %+v", r)
	}
	if len(r.Header) != 3 || r.Header[1] != (httpx.Field{Name: "X-A", Value: "1"}) || r.Header[2] != (httpx.Field{Name: "x-a", Value: "2"}) {
		t.Errorf("header = %q", r.Header)
	}
	if !r.RemoteAddr.Addr().IsLoopback() || r.LocalAddr.Port() == 0 || r.TLS != nil {
		t.Errorf("addrs %v %v tls %v", r.RemoteAddr, r.LocalAddr, r.TLS)
	}
}

func TestServePipelined(t *testing.T) {
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(helloHandler)})
	c := dialRaw(t, addr)
	c.send("GET /1 HTTP/1.1\r\nHost: h\r\n\r\nPOST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	for _, want := range []string{"hello /1", "hello /2", "hello /3"} {
		method := "GET"
		if want == "hello /2" {
			method = "POST"
		}
		if _, body := c.read(method); body != want {
			t.Fatalf("body %q, want %q", body, want)
		}
	}
	c.expectClosed()
}

func TestServeConnectionClose(t *testing.T) {
	t.Run("client asks", func(t *testing.T) {
		addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(helloHandler)})
		c := dialRaw(t, addr)
		c.send("GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
		if resp, _ := c.read("GET"); !resp.Close {
			t.Error("response lacks Connection: close")
		}
		c.expectClosed()
	})
	t.Run("handler asks", func(t *testing.T) {
		addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
			w.Header().Set("Connection", "close")
			helloHandler(w, r)
		})})
		c := dialRaw(t, addr)
		c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		if resp, _ := c.read("GET"); !resp.Close {
			t.Error("response lacks Connection: close")
		}
		c.expectClosed()
	})
}

func TestServeHTTP10(t *testing.T) {
	stream := httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		io.WriteString(w, "part1 ")
		w.Flush()
		io.WriteString(w, "part2")
	})
	t.Run("no keep-alive", func(t *testing.T) {
		c := dialRaw(t, serveTest(t, &Server{Handler: httpx.HandlerFunc(helloHandler)}))
		c.send("GET /x HTTP/1.0\r\n\r\n")
		resp, body := c.read("GET")
		if body != "hello /x" || !resp.Close || resp.ContentLength != 8 {
			t.Errorf("%q close=%v len=%d", body, resp.Close, resp.ContentLength)
		}
		c.expectClosed()
	})
	t.Run("keep-alive", func(t *testing.T) {
		c := dialRaw(t, serveTest(t, &Server{Handler: httpx.HandlerFunc(helloHandler)}))
		for range 2 {
			c.send("GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
			resp, body := c.read("GET")
			if body != "hello /x" || resp.Close || resp.Header.Get("Connection") != "keep-alive" {
				t.Fatalf("%q close=%v header=%v", body, resp.Close, resp.Header)
			}
		}
	})
	t.Run("streaming is close-delimited", func(t *testing.T) {
		c := dialRaw(t, serveTest(t, &Server{Handler: stream}))
		c.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
		resp, body := c.read("GET")
		if body != "part1 part2" || len(resp.TransferEncoding) != 0 || !resp.Close {
			t.Errorf("%q te=%v close=%v", body, resp.TransferEncoding, resp.Close)
		}
	})
	t.Run("HTTP/1.1 streaming is chunked", func(t *testing.T) {
		c := dialRaw(t, serveTest(t, &Server{Handler: stream}))
		c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		resp, body := c.read("GET")
		if body != "part1 part2" || len(resp.TransferEncoding) != 1 || resp.Close {
			t.Errorf("%q te=%v close=%v", body, resp.TransferEncoding, resp.Close)
		}
	})
}

// jsonError decodes the engine's JSON error and checks its shape.
func jsonError(t *testing.T, resp *http.Response, body string) int {
	t.Helper()
	var e struct {
		Error struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	if resp.Header.Get("Content-Type") != "application/json" || !resp.Close || e.Error.Code != resp.StatusCode || e.Error.Message == "" {
		t.Errorf("error response %d %v %q", resp.StatusCode, resp.Header, body)
	}
	return e.Error.Code
}

// TestServeRejects sends each malformed head over a real connection and checks the status,
// the JSON error, and that the connection closes.
func TestServeRejects(t *testing.T) {
	big := strings.Repeat("a", 9000)
	tests := []struct {
		name, req string
		status    int
	}{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"duplicate different CL", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", 400},
		{"CL list", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello", 400},
		{"CL sign", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +5\r\n\r\nhello", 400},
		{"CL overflow", "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
		{"xchunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n", 501},
		{"gzip, chunked", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 400},
		{"chunked, identity", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 400},
		{"two TE headers", "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n", 400},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n 2\r\n\r\n", 400},
		{"bare LF head", "GET / HTTP/1.1\nHost: h\n\n", 400},
		{"bare LF end", "GET / HTTP/1.1\r\nHost: h\r\n\n", 400},
		{"control in value", "GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x01b\r\n\r\n", 400},
		{"no host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"bad host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"bad method", "G(T / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"double space", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"HTTP/2 line", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", 505},
		{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 505},
		{"lowercase version", "GET / http/1.1\r\nHost: h\r\n\r\n", 400},
		{"asterisk GET", "GET * HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"relative target", "GET a/b HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"bad escape", "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"fragment", "GET /#x HTTP/1.1\r\nHost: h\r\n\r\n", 400},
		{"CONNECT", "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", 501},
		{"expect other", "POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx", 417},
		{"long request line", "GET /" + big + " HTTP/1.1\r\nHost: h\r\n\r\n", 414},
		{"header too large", "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X-Big: "+big+"\r\n", 8) + "\r\n", 431},
		{"too many fields", "GET / HTTP/1.1\r\nHost: h\r\n" + strings.Repeat("X: y\r\n", 101) + "\r\n", 431},
		{"empty first line", "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", 400},
	}
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(helloHandler)})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, addr)
			c.send(tt.req)
			resp, body := c.read("GET")
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			jsonError(t, resp, body)
			c.expectClosed()
		})
	}
}

// TestServeNoSmuggling: the bytes after a CL+TE request must never be served as a request,
// even though the CL framing would make them one.
func TestServeNoSmuggling(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		mu.Lock()
		paths = append(paths, strings.Clone(r.Path))
		mu.Unlock()
		io.Copy(io.Discard, r.Body)
		helloHandler(w, r)
	})})
	for _, req := range []string{
		"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 48\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\n\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
	} {
		c := dialRaw(t, addr)
		c.send(req)
		for {
			resp, err := http.ReadResponse(c.br, nil)
			if err != nil {
				break
			}
			io.Copy(io.Discard, resp.Body)
			if resp.StatusCode == 200 && !resp.Close {
				continue
			}
		}
		c.nc.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range paths {
		if p == "/smuggled" {
			t.Fatalf("smuggled request was served; paths = %q", paths)
		}
	}
}

func TestServeHandlerPanic(t *testing.T) {
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		if r.Path == "/panic" {
			panic("boom")
		}
		helloHandler(w, r)
	})})
	c := dialRaw(t, addr)
	c.send("GET /panic HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, body := c.read("GET")
	if resp.StatusCode != 500 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	jsonError(t, resp, body)
	c.expectClosed()
	c = dialRaw(t, addr)
	c.send("GET /ok HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, body := c.read("GET"); body != "hello /ok" {
		t.Fatalf("after panic: %q", body)
	}
}

func TestServeShutdown(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{})
	s := &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		if r.Path == "/slow" {
			close(started)
			<-release
		}
		helloHandler(w, r)
	})}
	addr := serveTest(t, s)

	idle := dialRaw(t, addr)
	idle.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	idle.read("GET")
	busy := dialRaw(t, addr)
	busy.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	<-started
	if n := s.ActiveConns(); n != 2 {
		t.Errorf("ActiveConns = %d, want 2", n)
	}

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	idle.expectClosed()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("still accepting after Shutdown")
	}
	close(release)
	resp, body := busy.read("GET")
	if body != "hello /slow" || !resp.Close {
		t.Errorf("in-flight response %q close=%v", body, resp.Close)
	}
	busy.expectClosed()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Shutdown did not return")
	}
	if n := s.ActiveConns(); n != 0 {
		t.Errorf("ActiveConns = %d after Shutdown", n)
	}
}

func TestServeShutdownDeadline(t *testing.T) {
	s := &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		<-r.Context().Done()
	})}
	addr := serveTest(t, s)
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	time.Sleep(50 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want deadline exceeded", err)
	}
	c.expectClosed()
}

func TestServeMaxConns(t *testing.T) {
	t.Run("per server", func(t *testing.T) {
		s := &Server{MaxConns: 1, Handler: httpx.HandlerFunc(helloHandler)}
		addr := serveTest(t, s)
		a := dialRaw(t, addr)
		a.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		a.read("GET")
		b := dialRaw(t, addr)
		b.expectClosed()
		a.nc.Close()
		eventually(t, func() bool { return s.ActiveConns() == 0 })
		c := dialRaw(t, addr)
		c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		c.read("GET")
	})
	t.Run("per IP", func(t *testing.T) {
		s := &Server{MaxConnsPerIP: 2, Handler: httpx.HandlerFunc(helloHandler)}
		addr := serveTest(t, s)
		for range 2 {
			c := dialRaw(t, addr)
			c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			c.read("GET")
		}
		dialRaw(t, addr).expectClosed()
	})
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatal("condition not reached in 3s")
}
