package h1

import (
	"io"
	"strings"
	"testing"
	"time"

	"aya/internal/httpx"
)

// TestServeSlowloris: a client dribbling a head, one byte well within every inter-read gap,
// is cut off at ReadHeaderTimeout after its first byte, on a fresh and on a reused connection.
func TestServeSlowloris(t *testing.T) {
	s := &Server{Handler: httpx.HandlerFunc(helloHandler), ReadHeaderTimeout: 300 * time.Millisecond, IdleTimeout: 5 * time.Second}
	addr := serveTest(t, s)
	for _, reuse := range []bool{false, true} {
		c := dialRaw(t, addr)
		if reuse {
			c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
			c.read("GET")
		}
		start := time.Now()
		stop := make(chan struct{})
		go func() {
			head := "GET / HTTP/1.1\r\nHost: h\r\nX-Slow: " + strings.Repeat("a", 100)
			for i := 0; i < len(head); i++ {
				select {
				case <-stop:
					return
				case <-time.After(20 * time.Millisecond):
				}
				if _, err := c.nc.Write([]byte{head[i]}); err != nil {
					return
				}
			}
		}()
		resp, body := c.read("GET")
		close(stop)
		if resp.StatusCode != 408 {
			t.Fatalf("reuse=%v: status %d %q", reuse, resp.StatusCode, body)
		}
		if d := time.Since(start); d < 250*time.Millisecond || d > 2*time.Second {
			t.Errorf("reuse=%v: cut after %v, want about 300ms", reuse, d)
		}
		c.expectClosed()
	}
}

// TestServeSilentConn: a connection that never sends a byte is closed (without a response)
// at ReadHeaderTimeout.
func TestServeSilentConn(t *testing.T) {
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(helloHandler), ReadHeaderTimeout: 200 * time.Millisecond})
	c := dialRaw(t, addr)
	start := time.Now()
	c.expectClosed()
	if d := time.Since(start); d < 150*time.Millisecond || d > 2*time.Second {
		t.Errorf("closed after %v, want about 200ms", d)
	}
}

func TestServeIdleTimeout(t *testing.T) {
	s := &Server{Handler: httpx.HandlerFunc(helloHandler), IdleTimeout: 700 * time.Millisecond}
	addr := serveTest(t, s)
	c := dialRaw(t, addr)
	// Requests inside the idle window keep the connection.
	for range 3 {
		c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		c.read("GET")
		time.Sleep(150 * time.Millisecond)
	}
	start := time.Now()
	c.expectClosed()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("idle connection closed after %v, want about 550ms more", d)
	}
	eventually(t, func() bool { return s.ActiveConns() == 0 })
}

func TestServeBodyReadTimeout(t *testing.T) {
	got := make(chan error, 1)
	addr := serveTest(t, &Server{BodyReadTimeout: 200 * time.Millisecond, Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		_, err := io.ReadAll(r.Body)
		got <- err
		w.WriteHeader(400)
	})})
	c := dialRaw(t, addr)
	c.send("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc")
	select {
	case err := <-got:
		if err == nil {
			t.Fatal("body read succeeded")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("body read did not time out")
	}
	resp, _ := c.read("POST")
	if !resp.Close {
		t.Error("connection kept after a broken body")
	}
	c.expectClosed()
}

// TestServeDeadlineSlack checks that a busy connection is not cut by a deadline set long ago:
// a deadline is only reused while within the slack of what it should be.
func TestServeDeadlineSlack(t *testing.T) {
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(helloHandler), IdleTimeout: 200 * time.Millisecond})
	c := dialRaw(t, addr)
	for end := time.Now().Add(700 * time.Millisecond); time.Now().Before(end); {
		c.send("GET / HTTP/1.1\r\nHost: h\r\n\r\n")
		c.read("GET")
		time.Sleep(10 * time.Millisecond)
	}
}

// TestServeClientGone: a handler that has not written yet learns through its context that the
// client left.
func TestServeClientGone(t *testing.T) {
	canceled := make(chan time.Duration, 1)
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		start := time.Now()
		select {
		case <-r.Context().Done():
			canceled <- time.Since(start)
		case <-time.After(5 * time.Second):
			canceled <- -1
		}
	})})
	c := dialRaw(t, addr)
	c.send("GET /long HTTP/1.1\r\nHost: h\r\n\r\n")
	time.Sleep(100 * time.Millisecond)
	c.nc.Close()
	if d := <-canceled; d < 0 || d > 3*livenessTick {
		t.Fatalf("context canceled after %v, want within %v", d, 3*livenessTick)
	}
}

// TestServeClientStays: a slow handler whose client waits is not canceled.
func TestServeClientStays(t *testing.T) {
	addr := serveTest(t, &Server{Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		select {
		case <-r.Context().Done():
			t.Error("context canceled while the client waits")
		case <-time.After(2500 * time.Millisecond):
		}
		helloHandler(w, r)
	})})
	c := dialRaw(t, addr)
	c.send("GET /slow HTTP/1.1\r\nHost: h\r\n\r\n")
	if _, body := c.read("GET"); body != "hello /slow" {
		t.Fatalf("%q", body)
	}
}
