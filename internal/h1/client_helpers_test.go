package h1

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"aya/internal/httpx"
)

// rawUpstream is a TCP server on 127.0.0.1 whose every connection is handed to a script, so
// tests control the exact bytes an upstream sends and when it closes.
type rawUpstream struct {
	ln       net.Listener
	accepted atomic.Int32
	mu       sync.Mutex
	conns    []net.Conn
	wg       sync.WaitGroup
}

func newRawUpstream(t testing.TB, handle func(c net.Conn)) *rawUpstream {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := &rawUpstream{ln: ln}
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			u.accepted.Add(1)
			u.mu.Lock()
			u.conns = append(u.conns, c)
			u.mu.Unlock()
			u.wg.Add(1)
			go func() {
				defer u.wg.Done()
				defer c.Close()
				handle(c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		u.mu.Lock()
		for _, c := range u.conns {
			c.Close()
		}
		u.mu.Unlock()
		u.wg.Wait()
	})
	return u
}

func (u *rawUpstream) addr() string { return u.ln.Addr().String() }

// answerEach adapts a per-request script: every request on the connection is parsed with
// net/http and its body read whole, then the script's reply is written as is. The connection
// closes when the script says so or the client goes away.
func answerEach(script func(req *http.Request, body []byte) (reply string, keep bool)) func(net.Conn) {
	return func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return
			}
			reply, keep := script(req, body)
			if _, err := io.WriteString(c, reply); err != nil || !keep {
				return
			}
		}
	}
}

// helloReply answers every request with a small keep-alive 200.
func helloReply(req *http.Request, body []byte) (string, bool) {
	return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Upstream: raw\r\n\r\nhello", true
}

func newTestClient(addr string) *Client {
	return &Client{Addr: addr, ResponseHeaderTimeout: 5 * time.Second, ReadTimeout: 5 * time.Second, WriteTimeout: 5 * time.Second}
}

func newGetReq(path string) *httpx.Request {
	return &httpx.Request{Method: "GET", Path: path, Header: httpx.Header{{Name: "Host", Value: "upstream.test"}}, Body: httpx.NoBody}
}

// clientDo runs one exchange and reads the whole body.
func clientDo(t testing.TB, c *Client, req *httpx.Request) (*httpx.Response, string) {
	t.Helper()
	resp := &httpx.Response{}
	if err := c.Do(clientTestCtx(t), req, resp); err != nil {
		t.Fatalf("Do %s %s: %v", req.Method, req.Path, err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	// Copy what the test checks: the strings die with Close.
	out := &httpx.Response{Status: resp.Status, Proto: resp.Proto, ContentLength: resp.ContentLength}
	for _, f := range resp.Header {
		out.Header.Add(string([]byte(f.Name)), string([]byte(f.Value)))
	}
	for _, f := range resp.Trailer {
		out.Trailer.Add(string([]byte(f.Name)), string([]byte(f.Value)))
	}
	if err := resp.Body.Close(); err != nil {
		t.Fatalf("close body: %v", err)
	}
	return out, string(b)
}

func clientTestCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// waitUntil polls cond for up to two seconds.
func waitUntil(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}
