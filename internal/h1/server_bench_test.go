package h1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"aya/internal/httpx"
)

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// benchKeepAlive measures whole requests over one loopback keep-alive connection: the
// client writes a request and reads the fixed-size response; the allocations reported are
// the server's (the client side allocates nothing in the loop).
func benchKeepAlive(b *testing.B, req string, h httpx.HandlerFunc) {
	s := &Server{Handler: h, Logger: quietLog}
	addr := serveTest(b, s)
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer nc.Close()
	reqBytes := []byte(req)

	// One request to learn the response size (the Date header has a fixed width).
	nc.Write(reqBytes)
	cr := &countingReader{r: nc}
	resp, err := http.ReadResponse(bufio.NewReaderSize(cr, 16), nil)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	buf := make([]byte, cr.n)

	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := nc.Write(reqBytes); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(nc, buf); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkServeKeepAlive(b *testing.B) {
	body := []byte("hello, world\n")
	benchKeepAlive(b, "GET /hello HTTP/1.1\r\nHost: bench.local\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n",
		func(w httpx.ResponseWriter, r *httpx.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write(body)
		})
}

// BenchmarkServeKeepAlivePost adds a small request body read by the handler and a chunked
// response flushed mid-way, the proxy's streaming shape.
func BenchmarkServeKeepAlivePost(b *testing.B) {
	buf := make([]byte, 64)
	body := []byte("0123456789abcdef")
	benchKeepAlive(b, "POST /echo HTTP/1.1\r\nHost: bench.local\r\nContent-Length: 16\r\n\r\n0123456789abcdef",
		func(w httpx.ResponseWriter, r *httpx.Request) {
			for {
				if _, err := r.Body.Read(buf); err != nil {
					break
				}
			}
			w.Write(body)
			w.Flush()
			w.Write(body)
		})
}

// TestServeSteadyStateAllocs: after a connection is set up, serving more requests on it,
// bodies included, allocates nothing.
func TestServeSteadyStateAllocs(t *testing.T) {
	reqs := "GET /a?b=c HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n" +
		"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
	body := []byte("response body")
	buf := make([]byte, 64)
	s := &Server{Logger: quietLog, Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		for {
			if _, err := r.Body.Read(buf); err != nil {
				break
			}
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
		if r.Method == "POST" {
			w.Flush()
			w.Write(body)
		}
	})}
	defer s.Close()
	run := func(n int) float64 {
		stream := []byte(strings.Repeat(reqs, n))
		return testing.AllocsPerRun(20, func() {
			s.ServeConn(&scriptConn{pieces: [][]byte{stream}})
		})
	}
	one, many := run(1), run(51)
	t.Logf("allocations: connection with 3 requests %.0f, with 153 requests %.0f", one, many)
	if perReq := (many - one) / 150; perReq > 0.05 {
		t.Fatalf("%.2f allocations per request (connection: %.0f, with 150 more requests: %.0f)", perReq, one, many)
	}
}

// BenchmarkServeEngine is the engine's own cost per request, without sockets: a typical
// browser-sized GET parsed, handed to a handler that sets a header and writes a small body,
// and the response serialized, over a connection that serves 1000 pipelined requests.
func BenchmarkServeEngine(b *testing.B) {
	const perConn = 1000
	req := "GET /api/v1/users/12345?fields=name HTTP/1.1\r\nHost: api.example.com\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36\r\nAccept: application/json\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n" +
		"Cookie: session=7f3c2a9e1b4d4e8f9a2c5d6e7f8a9b0c; theme=dark\r\n\r\n"
	stream := []byte(strings.Repeat(req, perConn))
	body := []byte(`{"id":12345,"name":"Ada"}`)
	s := &Server{Logger: quietLog, Handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		w.Write(body)
	})}
	defer s.Close()
	b.ReportAllocs()
	b.SetBytes(int64(len(stream)))
	for b.Loop() {
		s.ServeConn(&scriptConn{pieces: [][]byte{stream}})
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perConn), "ns/req")
}
