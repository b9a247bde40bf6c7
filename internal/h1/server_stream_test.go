package h1

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"math/big"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"aya/internal/httpx"
)

// TestServeFlushTiming: after Flush the client has the first chunk while the handler still
// holds the second (SSE through the proxy depends on it).
func TestServeFlushTiming(t *testing.T) {
	seen := make(chan struct{})
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: 1\n\n")
		w.Flush()
		select {
		case <-seen:
		case <-time.After(3 * time.Second):
			t.Error("client did not see the first event before the second was written")
		}
		io.WriteString(w, "data: 2\n\n")
	})})
	c := dialRaw(t, addr)
	c.send("GET /events HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.TransferEncoding) != 1 {
		t.Fatalf("want chunked, got %v", resp.Header)
	}
	buf := make([]byte, 9)
	if _, err := io.ReadFull(resp.Body, buf); err != nil || string(buf) != "data: 1\n\n" {
		t.Fatalf("first event %q, %v", buf, err)
	}
	close(seen)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || string(rest) != "data: 2\n\n" {
		t.Fatalf("second event %q, %v", rest, err)
	}
}

func TestServeChunkedResponseTrailers(t *testing.T) {
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		w.(httpx.TrailerWriter).SetTrailer(httpx.Header{{Name: "Grpc-Status", Value: "0"}})
		io.WriteString(w, "small")
	})})
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, body := c.read("GET")
	if body != "small" || len(resp.TransferEncoding) != 1 || resp.Trailer.Get("Grpc-Status") != "0" {
		t.Fatalf("%q te=%v trailer=%v", body, resp.TransferEncoding, resp.Trailer)
	}
	// Keep-alive survives a chunked response.
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	c.read("GET")
}

func TestServeLargeResponses(t *testing.T) {
	big := strings.Repeat("x", 100<<10)
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		if r.Path == "/length" {
			w.Header().Set("Content-Length", "102400")
		}
		for i := 0; i < len(big); i += 1000 {
			w.Write([]byte(big[i:min(i+1000, len(big))]))
		}
	})})
	c := dialRaw(t, addr)
	for _, p := range []string{"/length", "/chunked"} {
		c.send("GET " + p + " HTTP/1.1\r\nHost: h\r\n\r\n")
		resp, body := c.read("GET")
		if body != big {
			t.Fatalf("%s: %d bytes", p, len(body))
		}
		if chunked := len(resp.TransferEncoding) == 1; chunked != (p == "/chunked") {
			t.Errorf("%s: te=%v length=%d", p, resp.TransferEncoding, resp.ContentLength)
		}
	}
}

func TestServeNoBodyStatuses(t *testing.T) {
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		switch r.Path {
		case "/204":
			w.WriteHeader(204)
			if _, err := w.Write([]byte("x")); err != ErrBodyNotAllowed {
				t.Errorf("Write after 204 = %v", err)
			}
		case "/304":
			w.Header().Set("Content-Length", "42")
			w.WriteHeader(304)
		default:
			io.WriteString(w, "body of a GET")
		}
	})})
	c := dialRaw(t, addr)
	c.send("HEAD / HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, body := c.read("HEAD")
	if body != "" || resp.ContentLength != 13 {
		t.Errorf("HEAD: %q length %d", body, resp.ContentLength)
	}
	c.send("GET /204 HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp, _ := c.read("GET"); resp.StatusCode != 204 || resp.Header.Get("Content-Length") != "" || len(resp.TransferEncoding) != 0 {
		t.Errorf("204: %v", resp.Header)
	}
	c.send("GET /304 HTTP/1.1\r\nHost: h\r\n\r\n")
	if resp, _ := c.read("GET"); resp.StatusCode != 304 || resp.Header.Get("Content-Length") != "42" {
		t.Errorf("304: %v", resp.Header)
	}
	// The connection still frames correctly after all of that.
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, body := c.read("GET"); body != "body of a GET" {
		t.Errorf("after: %q", body)
	}
}

func TestServeRequestBodies(t *testing.T) {
	type seen struct {
		body, trailer, header string
		length                int64
	}
	got := make(chan seen, 1)
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("body: %v", err)
		}
		// The head must still be intact after the body refilled the read buffer.
		got <- seen{string(b), r.Trailer.Get("X-Sum"), r.Header.Get("X-Check"), r.ContentLength}
		io.WriteString(w, "ok")
	})})
	big := strings.Repeat("b", 50000)
	tests := []struct {
		name, req string
		want      seen
	}{
		{"length", "POST / HTTP/1.1\r\nHost: h\r\nX-Check: v1\r\nContent-Length: 5\r\n\r\nhello", seen{"hello", "", "v1", 5}},
		{"large length", "POST / HTTP/1.1\r\nHost: h\r\nX-Check: v2\r\nContent-Length: 50000\r\n\r\n" + big, seen{big, "", "v2", 50000}},
		{"chunked", "POST / HTTP/1.1\r\nHost: h\r\nX-Check: v3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n1;ext=1\r\n!\r\n0\r\nX-Sum: 9\r\n\r\n", seen{"hello!", "9", "v3", -1}},
		{"large head", "POST / HTTP/1.1\r\nHost: h\r\nX-Pad: " + strings.Repeat("p", 6000) + "\r\nX-Check: v4\r\nContent-Length: 50000\r\n\r\n" + big, seen{big, "", "v4", 50000}},
	}
	c := dialRaw(t, addr)
	for _, tt := range tests {
		c.send(tt.req)
		if _, body := c.read("POST"); body != "ok" {
			t.Fatalf("%s: %q", tt.name, body)
		}
		if g := <-got; g != tt.want {
			t.Errorf("%s: got body %d bytes trailer %q header %q length %d", tt.name, len(g.body), g.trailer, g.header, g.length)
		}
	}
}

// TestServeUnreadBody: a small unread body is drained so the connection stays; a large one
// makes the server close.
func TestServeUnreadBody(t *testing.T) {
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(helloHandler)})
	c := dialRaw(t, addr)
	c.send("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")
	c.read("POST")
	c.send("POST /b HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	c.read("POST")
	c.send("GET /c HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, body := c.read("GET"); body != "hello /c" {
		t.Fatalf("after drained bodies: %q", body)
	}
	c.send("POST /big HTTP/1.1\r\nHost: h\r\nContent-Length: 10000000\r\n\r\n")
	if resp, _ := c.read("POST"); !resp.Close {
		t.Error("no Connection: close with a large unread body")
	}
	c.expectClosed()
}

func TestServeExpectContinue(t *testing.T) {
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		if r.Path == "/read" {
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
			return
		}
		w.WriteHeader(403)
	})})

	t.Run("read sends 100", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send("POST /read HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		line, err := c.br.ReadString('\n')
		if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
			t.Fatalf("interim %q, %v", line, err)
		}
		if blank, _ := c.br.ReadString('\n'); blank != "\r\n" {
			t.Fatalf("interim not terminated: %q", blank)
		}
		c.send("hello")
		resp, body := c.read("POST")
		if resp.StatusCode != 200 || body != "hello" {
			t.Fatalf("%d %q", resp.StatusCode, body)
		}
		c.send("GET /read HTTP/1.1\r\nHost: h\r\n\r\n")
		c.read("GET")
	})
	t.Run("no read no 100", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send("POST /deny HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
		line, _ := c.br.Peek(12)
		if string(line) != "HTTP/1.1 403" {
			t.Fatalf("first response line %q", line)
		}
		resp, _ := c.read("POST")
		if !resp.Close {
			t.Error("connection kept although the announced body was never sent")
		}
		c.expectClosed()
	})
}

func TestServeHijack(t *testing.T) {
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		nc, buffered, err := w.(httpx.Hijacker).Hijack()
		if err != nil {
			t.Errorf("Hijack: %v", err)
			return
		}
		go func() {
			defer nc.Close()
			io.WriteString(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
			nc.Write(bytes.ToUpper(buffered))
			io.Copy(nc, io.LimitReader(nc, 3))
		}()
		if _, err := w.Write([]byte("x")); err != ErrHijacked {
			t.Errorf("Write after Hijack = %v", err)
		}
	})})
	c := dialRaw(t, addr)
	c.send("GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nearly")
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil || resp.StatusCode != 101 {
		t.Fatalf("%v %v", resp, err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(c.br, buf); err != nil || string(buf) != "EARLY" {
		t.Fatalf("buffered bytes %q, %v", buf, err)
	}
	c.send("abc")
	if _, err := io.ReadFull(c.br, buf[:3]); err != nil || string(buf[:3]) != "abc" {
		t.Fatalf("echo %q, %v", buf[:3], err)
	}
}

// TestServeWriteErrorFailsFast: once the client is gone, writes fail at once and the request
// context is canceled.
func TestServeWriteErrorFailsFast(t *testing.T) {
	result := make(chan error, 1)
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		chunk := make([]byte, 64<<10)
		var err error
		for i := 0; i < 10000 && err == nil; i++ {
			if _, err = w.Write(chunk); err == nil {
				err = w.Flush()
			}
		}
		if err == nil {
			result <- nil
			return
		}
		start := time.Now()
		_, err2 := w.Write(chunk)
		if err2 == nil || time.Since(start) > 50*time.Millisecond || r.Context().Err() == nil {
			t.Errorf("after a write error: Write = %v in %v, ctx err %v", err2, time.Since(start), r.Context().Err())
		}
		result <- err
	})})
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	c.br.Peek(1)
	c.nc.(*net.TCPConn).SetLinger(0)
	c.nc.Close()
	select {
	case err := <-result:
		if err == nil {
			t.Fatal("writes never failed")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler stuck writing to a gone client")
	}
}

func TestServeH2CHandoff(t *testing.T) {
	got := make(chan string, 1)
	s := &Server{Handler: httpx.HandlerFunc(helloHandler), OnH2C: func(c net.Conn, preface []byte) {
		// The preface may carry more than the preface; read until we have the frame prefix.
		for len(preface) < len(h2Preface)+4 {
			b := make([]byte, 64)
			n, err := c.Read(b)
			if err != nil {
				break
			}
			preface = append(preface, b[:n]...)
		}
		got <- string(preface)
		c.Close()
	}}
	addr := serveTest(t, s)
	c := dialRaw(t, addr)
	c.send(h2Preface[:10])
	time.Sleep(20 * time.Millisecond)
	c.send(h2Preface[10:] + "SETT")
	select {
	case g := <-got:
		if g != h2Preface+"SETT" {
			t.Errorf("handed off %q", g)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("OnH2C not called")
	}
	// HTTP/1.1 on the same server is unaffected.
	c = dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, body := c.read("GET"); body != "hello /" {
		t.Errorf("h1 after h2c: %q", body)
	}
}

func TestServeConnTLS(t *testing.T) {
	cert := selfSigned(t)
	got := make(chan bool, 1)
	s := &Server{Logger: quietLog, Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		got <- r.TLS != nil && r.TLS.HandshakeComplete && r.Scheme() == "https"
		helloHandler(w, r)
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		s.ServeConn(tls.Server(nc, &tls.Config{Certificates: []tls.Certificate{cert}}))
	}()
	tc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(tc, "GET /tls HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v %v", resp, err)
	}
	if !<-got {
		t.Error("Request.TLS not set from the connection state")
	}
	s.Close()
}

func selfSigned(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestServeTLSHandshakeTimeout(t *testing.T) {
	cert := selfSigned(t)
	s := &Server{Logger: quietLog, ReadHeaderTimeout: 200 * time.Millisecond, Handler: httpx.HandlerFunc(helloHandler)}
	defer s.Close()
	a, b := net.Pipe()
	defer a.Close()
	done := make(chan struct{})
	go func() {
		s.ServeConn(tls.Server(b, &tls.Config{Certificates: []tls.Certificate{cert}}))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		t.Fatal("a client that never handshakes was not cut off")
	}
}

func TestServeResponseHeaderSafety(t *testing.T) {
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		h := w.Header()
		h.Add("X-Good", "yes")
		h.Add("X-Bad", "a\r\nInjected: 1")
		h.Add("Bad Name", "v")
		h.Add("Transfer-Encoding", "gzip")
		w.(httpx.TrailerWriter).SetTrailer(httpx.Header{{Name: "X-T", Value: "x\r\nEvil: 1"}})
		w.WriteHeader(200)
		w.Flush()
		io.WriteString(w, "body")
	})})
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, body := c.read("GET")
	if body != "body" || resp.Header.Get("X-Good") != "yes" || resp.Header.Get("Injected") != "" ||
		resp.Header.Get("X-Bad") != "" || len(resp.TransferEncoding) != 1 || resp.Trailer.Get("Evil") != "" {
		t.Fatalf("%q %v trailer %v te %v", body, resp.Header, resp.Trailer, resp.TransferEncoding)
	}
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	c.read("GET")
}

func TestServeContentLengthMismatch(t *testing.T) {
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		w.Header().Set("Content-Length", "5")
		if r.Path == "/long" {
			if _, err := io.WriteString(w, "too long"); err != ErrContentLength {
				t.Errorf("overlong write: %v", err)
			}
			io.WriteString(w, "12345")
			return
		}
		io.WriteString(w, "123")
	})})
	c := dialRaw(t, addr)
	c.send("GET /long HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, body := c.read("GET"); body != "12345" {
		t.Fatalf("%q", body)
	}
	c = dialRaw(t, addr)
	c.send("GET /short HTTP/1.1\r\nHost: h\r\n\r\n")
	resp, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadAll(resp.Body); err == nil {
		t.Fatal("short body read without error: the connection should have closed")
	}
}

func TestServeEarlyHints(t *testing.T) {
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		w.Header().Set("Link", "</app.css>; rel=preload")
		w.WriteHeader(103)
		w.Header().Del("Link")
		w.WriteHeader(200)
		io.WriteString(w, "page")
	})})
	c := dialRaw(t, addr)
	c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
	head, err := c.br.ReadString('\n')
	if err != nil || head != "HTTP/1.1 103 Early Hints\r\n" {
		t.Fatalf("%q %v", head, err)
	}
	for line := ""; line != "\r\n"; {
		line, _ = c.br.ReadString('\n')
	}
	if resp, body := c.read("GET"); resp.StatusCode != 200 || body != "page" || resp.Header.Get("Link") != "" {
		t.Fatalf("%d %q %v", resp.StatusCode, body, resp.Header)
	}
}

// TestServeSharedHeaderUntouched: a handler may hand the writer a header slice it shares
// between requests; the server must never write into it.
func TestServeSharedHeaderUntouched(t *testing.T) {
	shared := make(httpx.Header, 1, 8)
	shared[0] = httpx.Field{Name: "X-Static", Value: "1"}
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		if r.Path == "/static" {
			*w.Header() = shared
		} else {
			w.Header().Add("X-Dynamic", "2")
		}
		io.WriteString(w, "ok")
	})})
	c := dialRaw(t, addr)
	for _, p := range []string{"/static", "/other", "/static"} {
		c.send("GET " + p + " HTTP/1.1\r\nHost: h\r\n\r\n")
		c.read("GET")
	}
	if len(shared) != 1 || shared[:2][1] != (httpx.Field{}) || shared[0].Value != "1" {
		t.Fatalf("shared header modified: %q", shared[:cap(shared)])
	}
}
