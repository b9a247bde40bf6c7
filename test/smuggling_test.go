package test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countingBackend counts the requests that reach it, so a test can prove a smuggled request
// never got through.
func countingBackend(t *testing.T) (string, *atomic.Int64, *atomic.Value) {
	t.Helper()
	var n atomic.Int64
	var last atomic.Value
	last.Store("")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		last.Store(r.Method + " " + r.URL.Path)
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Shutdown(ctx)
	})
	return ln.Addr().String(), &n, &last
}

func TestSmugglingRejected(t *testing.T) {
	backend, hits, last := countingBackend(t)
	web := freePort(t)
	startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams: [{name: u, targets: [{url: "http://%s"}]}]
routes: [{name: r, match: {path: "/*"}, upstream: u}]
admin: {address: "{{ADMIN}}"}
`, web, backend))

	cases := []struct{ name, req string }{
		{"CL and TE", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"TE and CL", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n5c\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n0\r\n\r\n"},
		{"conflicting CL", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\nhelloGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"CL list", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 40\r\n\r\nhello"},
		{"bad chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"},
		{"LF-only last chunk", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\n\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"LF-only chunk line", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\n0\r\n\r\n"},
		{"TE not chunked", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabc"},
		{"TE obfuscated", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n"},
		{"space before colon", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n"},
		{"no host", "GET / HTTP/1.1\r\n\r\n"},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"},
		{"chunk size overflow", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff1\r\nhello\r\n0\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			out := rawExchange(t, web, tc.req, 3*time.Second)
			if !strings.HasPrefix(out, "HTTP/1.1 4") && !strings.HasPrefix(out, "HTTP/1.1 5") {
				t.Fatalf("want a 4xx/5xx, got %q", out)
			}
			if strings.Count(out, "HTTP/1.1 ") != 1 {
				t.Fatalf("more than one response on a rejected connection: %q", out)
			}
			// Framing errors are found before the body is forwarded, except a bad chunk that
			// arrives after the head: then the upstream may have seen the first request, but
			// never a smuggled second one.
			if strings.Contains(last.Load().(string), "smuggled") {
				t.Fatalf("smuggled request reached the upstream")
			}
			_ = before
		})
	}
	if strings.Contains(last.Load().(string), "smuggled") {
		t.Fatal("a smuggled request reached the upstream")
	}

	// Limits: request line 8 KiB → 414; more than 100 headers → 431; 64 KiB of headers → 431.
	long := "GET /" + strings.Repeat("a", 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n"
	if out := rawExchange(t, web, long, 3*time.Second); !strings.HasPrefix(out, "HTTP/1.1 414") {
		t.Fatalf("long URL: %.60q", out)
	}
	var many strings.Builder
	many.WriteString("GET / HTTP/1.1\r\nHost: x\r\n")
	for i := 0; i < 101; i++ {
		fmt.Fprintf(&many, "X-H%d: v\r\n", i)
	}
	many.WriteString("\r\n")
	if out := rawExchange(t, web, many.String(), 3*time.Second); !strings.HasPrefix(out, "HTTP/1.1 431") {
		t.Fatalf("101 headers: %.60q", out)
	}
	big := "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 70<<10) + "\r\n\r\n"
	if out := rawExchange(t, web, big, 3*time.Second); !strings.HasPrefix(out, "HTTP/1.1 431") {
		t.Fatalf("70 KiB header: %.60q", out)
	}
}

// TestSlowlorisCut checks a client dribbling its header is cut at read_header.
func TestSlowlorisCut(t *testing.T) {
	backend, _, _ := countingBackend(t)
	web := freePort(t)
	startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s", timeouts: {read_header: 500ms, idle: 1s}}]
upstreams: [{name: u, targets: [{url: "http://%s"}]}]
routes: [{name: r, match: {path: "/*"}, upstream: u}]
admin: {address: "{{ADMIN}}"}
`, web, backend))
	c, err := net.Dial("tcp", web)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
	closed := make(chan struct{})
	go func() {
		buf := make([]byte, 512)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			if _, err := c.Read(buf); err != nil {
				close(closed)
				return
			}
		}
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-closed:
			if d := time.Since(start); d > 1500*time.Millisecond {
				t.Fatalf("slow header cut after %v, want about 500ms", d)
			}
			return
		case <-tick.C:
			io.WriteString(c, "X-Slow: 1\r\n")
		}
	}
}
