package h1

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"aya/internal/httpx"
)

// digestReply answers with the method, the body's length and its SHA-256, so a test can tell
// the upstream received exactly the body it sent.
func digestReply(req *http.Request, body []byte) string {
	b := fmt.Sprintf("%s %d %x", req.Method, len(body), sha256.Sum256(body))
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(b), b)
}

func digestOf(method string, body []byte) string {
	return fmt.Sprintf("%s %d %x", method, len(body), sha256.Sum256(body))
}

// TestClientRetriesClosedIdleConn: the upstream closes each connection right after
// answering, without "Connection: close". The next request meets the closed connection
// before the probe would look at it, and must be sent again on a fresh one, transparently,
// whatever its method and body.
func TestClientRetriesClosedIdleConn(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 200<<10/16) // 200 KiB: streamed
	tests := []struct {
		name string
		req  func() *httpx.Request
		body []byte
	}{
		{name: "GET", req: func() *httpx.Request { return newGetReq("/") }},
		{name: "POST small", body: []byte("small body"), req: func() *httpx.Request {
			r := newGetReq("/")
			r.Method, r.Body, r.ContentLength = "POST", strings.NewReader("small body"), 10
			return r
		}},
		{name: "POST chunked", body: []byte("chunked body"), req: func() *httpx.Request {
			r := newGetReq("/")
			r.Method, r.Body, r.ContentLength = "POST", strings.NewReader("chunked body"), -1
			return r
		}},
		{name: "PUT large", body: big, req: func() *httpx.Request {
			r := newGetReq("/")
			r.Method, r.Body, r.ContentLength = "PUT", bytes.NewReader(big), int64(len(big))
			return r
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var served atomic.Int32
			up := newRawUpstream(t, answerEach(func(req *http.Request, body []byte) (string, bool) {
				served.Add(1)
				return digestReply(req, body), false
			}))
			c := newTestClient(up.addr())
			defer c.Close()
			for i := range 3 {
				req := tt.req()
				resp, body := clientDo(t, c, req)
				if want := digestOf(req.Method, tt.body); resp.Status != 200 || body != want {
					t.Fatalf("request %d: %d %q, want %q", i, resp.Status, body, want)
				}
				// Let the upstream's close land before the next request takes the connection.
				waitUntil(t, "upstream close", func() bool { return up.accepted.Load() == int32(i+1) })
				time.Sleep(20 * time.Millisecond)
			}
			if n := served.Load(); n != 3 {
				t.Errorf("upstream served %d requests, want 3 (each exactly once)", n)
			}
		})
	}
}

// TestClientNoRetryOnFreshConn: a connection just dialed that fails is the upstream's answer,
// not a stale connection, so it is not retried.
func TestClientNoRetryOnFreshConn(t *testing.T) {
	up := newRawUpstream(t, func(c net.Conn) {
		http.ReadRequest(bufio.NewReader(c))
	})
	c := newTestClient(up.addr())
	defer c.Close()
	err := c.Do(context.Background(), newGetReq("/"), &httpx.Response{})
	if !errors.Is(err, KindReset) {
		t.Fatalf("err = %v, want KindReset", err)
	}
	if n := up.accepted.Load(); n != 1 {
		t.Errorf("accepted %d connections, want 1 (no retry)", n)
	}
}

// slowStart hands out its first 64 KiB in 8 KiB pieces, 10ms apart, like a client uploading
// over a slow link, then the rest at once.
type slowStart struct {
	r    io.Reader
	read int
}

func (s *slowStart) Read(p []byte) (int, error) {
	if s.read < maxReplayBody {
		time.Sleep(10 * time.Millisecond)
		p = p[:min(len(p), 8<<10)]
	}
	n, err := s.r.Read(p)
	s.read += n
	return n, err
}

// TestClientReplayLimit: a reused connection closed after the upstream read part of a body
// is retried when what was read from the body still fits the replay buffer, with the body
// sent whole; past that, the error says why it was not.
func TestClientReplayLimit(t *testing.T) {
	for _, tt := range []struct {
		name    string
		readN   int64 // body bytes the upstream reads on the reused connection before closing it
		retried bool
	}{
		{name: "within replay buffer", readN: 10 << 10, retried: true},
		{name: "beyond replay buffer", readN: 512 << 10},
	} {
		t.Run(tt.name, func(t *testing.T) {
			body := bytes.Repeat([]byte("x"), 1<<20)
			var conns atomic.Int32
			up := newRawUpstream(t, func(c net.Conn) {
				n := conns.Add(1)
				br := bufio.NewReader(c)
				for i := 0; ; i++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if n == 1 && i == 1 {
						// The second request on the first connection: read some, then vanish.
						io.CopyN(io.Discard, req.Body, tt.readN)
						return
					}
					b, _ := io.ReadAll(req.Body)
					io.WriteString(c, digestReply(req, b))
				}
			})
			c := newTestClient(up.addr())
			defer c.Close()
			clientDo(t, c, newGetReq("/warm"))
			req := newGetReq("/")
			req.Method, req.Body, req.ContentLength = "POST", &slowStart{r: bytes.NewReader(body)}, int64(len(body))
			resp := &httpx.Response{}
			err := c.Do(context.Background(), req, resp)
			if tt.retried {
				if err != nil {
					t.Fatalf("Do: %v", err)
				}
				got, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if want := digestOf("POST", body); string(got) != want {
					t.Fatalf("upstream got %q, want %q", got, want)
				}
				return
			}
			if !errors.Is(err, KindReset) || !errors.Is(err, errNoRetryBody) {
				t.Fatalf("err = %v, want KindReset explaining the body was too large to resend", err)
			}
			if c.ActiveConns() != 0 {
				t.Errorf("active = %d", c.ActiveConns())
			}
		})
	}
}

// TestClientTLSClosedIdleConn: a TLS upstream closes idle connections (close_notify, then
// FIN). Whether the probe runs (its peek sees the alert bytes, which under TLS may be a
// session ticket, so it keeps the connection) or not, the retry sends the request again.
func TestClientTLSClosedIdleConn(t *testing.T) {
	for _, probeAfter := range []time.Duration{time.Millisecond, time.Hour} {
		t.Run(fmt.Sprint("probe after ", probeAfter), func(t *testing.T) {
			var served atomic.Int32
			srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				served.Add(1)
				b, _ := io.ReadAll(r.Body)
				io.WriteString(w, digestOf(r.Method, b))
			}))
			srv.Config.IdleTimeout = 20 * time.Millisecond
			srv.StartTLS()
			defer srv.Close()
			cfg := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
			cfg.NextProtos = nil
			c := newTestClient(srv.Listener.Addr().String())
			c.TLS = cfg
			c.probeAfter = probeAfter
			defer c.Close()
			for i := range 3 {
				req := newGetReq("/")
				req.Method, req.Body, req.ContentLength = "POST", strings.NewReader("tls body"), 8
				if resp, body := clientDo(t, c, req); resp.Status != 200 || body != digestOf("POST", []byte("tls body")) {
					t.Fatalf("request %d: %d %q", i, resp.Status, body)
				}
				time.Sleep(100 * time.Millisecond) // the upstream closes the idle connection
			}
			if n := served.Load(); n != 3 {
				t.Errorf("served %d, want 3", n)
			}
		})
	}
}

// TestClientIdle408: the upstream sends 408 on the idle connection and closes it. The next
// request reads that 408 on the reused connection and is sent again on a fresh one; a 408 on a
// fresh connection is a real answer and is returned.
func TestClientIdle408(t *testing.T) {
	var conns atomic.Int32
	up := newRawUpstream(t, func(c net.Conn) {
		n := conns.Add(1)
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if req.URL.Path == "/timeout" {
			io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n")
			return
		}
		r, _ := helloReply(req, nil)
		io.WriteString(c, r)
		if n == 1 {
			time.Sleep(10 * time.Millisecond) // the client has pooled the connection
			io.WriteString(c, "HTTP/1.1 408 Request Timeout\r\nConnection: close\r\n\r\n")
		}
	})
	c := newTestClient(up.addr())
	defer c.Close()
	clientDo(t, c, newGetReq("/"))
	time.Sleep(40 * time.Millisecond)
	if resp, body := clientDo(t, c, newGetReq("/")); resp.Status != 200 || body != "hello" {
		t.Fatalf("after the idle 408: %d %q", resp.Status, body)
	}
	if resp, _ := clientDo(t, c, newGetReq("/timeout")); resp.Status != 408 {
		t.Fatalf("a fresh connection's 408: got %d", resp.Status)
	}
}
