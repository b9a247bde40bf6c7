package h1

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"aya/internal/httpx"
)

var endOfHead = []byte("\r\n\r\n")

// newTinyUpstream is a keep-alive server that allocates nothing per request: it answers every
// request head (followed by bodyLen body bytes) with reply.
func newTinyUpstream(tb testing.TB, reply string, bodyLen int) *rawUpstream {
	return newRawUpstream(tb, func(c net.Conn) {
		buf := make([]byte, 64<<10)
		out := []byte(reply)
		have, skip, inBody := 0, 0, false
		for {
			n, err := c.Read(buf[have:])
			if err != nil {
				return
			}
			data := buf[:have+n]
			for {
				if inBody {
					k := min(skip, len(data))
					data, skip = data[k:], skip-k
					if skip > 0 {
						break
					}
					inBody = false
					if _, err := c.Write(out); err != nil {
						return
					}
					continue
				}
				i := bytes.Index(data, endOfHead)
				if i < 0 {
					break
				}
				data, skip, inBody = data[i+4:], bodyLen, true
			}
			have = copy(buf, data)
		}
	})
}

const tinyReply = "HTTP/1.1 200 OK\r\nServer: tiny\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, world!"

func clientBenchRequest() *httpx.Request {
	return &httpx.Request{Method: "GET", Path: "/api/v1/items", Query: "page=2", Body: httpx.NoBody, Header: httpx.Header{
		{Name: "Host", Value: "api.example.com"},
		{Name: "User-Agent", Value: "wrk/4.2.0"},
		{Name: "Accept", Value: "*/*"},
		{Name: "X-Forwarded-For", Value: "203.0.113.7"},
		{Name: "X-Forwarded-Proto", Value: "https"},
		{Name: "X-Request-Id", Value: "7f3c9a2e-5b1d-4e8f-9a6b-2c4d8e1f0a3b"},
	}}
}

// runExchange is one proxied exchange as the gateway runs it: Do, stream the body, Close.
func runExchange(tb testing.TB, c *Client, ctx context.Context, req *httpx.Request, resp *httpx.Response, buf []byte) {
	if err := c.Do(ctx, req, resp); err != nil {
		tb.Fatal(err)
	}
	for {
		_, err := resp.Body.Read(buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	resp.Body.Close()
}

func BenchmarkClientDo(b *testing.B) {
	cancelable, cancel := context.WithCancel(context.Background())
	defer cancel()
	withDeadline, cancel2 := context.WithTimeout(context.Background(), time.Hour)
	defer cancel2()
	for _, bc := range []struct {
		name    string
		ctx     context.Context
		bodyLen int
	}{
		{name: "GET", ctx: context.Background()},
		{name: "GET-cancelable-ctx", ctx: cancelable},
		{name: "GET-deadline-ctx", ctx: withDeadline},
		{name: "POST-1KiB", ctx: context.Background(), bodyLen: 1 << 10},
	} {
		b.Run(bc.name, func(b *testing.B) {
			up := newTinyUpstream(b, tinyReply, bc.bodyLen)
			c := &Client{Addr: up.addr()}
			defer c.Close()
			req := clientBenchRequest()
			body := strings.NewReader(strings.Repeat("x", bc.bodyLen))
			resp := &httpx.Response{Header: make(httpx.Header, 0, 16)}
			buf := make([]byte, 32<<10)
			b.ReportAllocs()
			cpu := processCPU()
			for b.Loop() {
				if bc.bodyLen > 0 {
					body.Seek(0, io.SeekStart)
					req.Method, req.Body, req.ContentLength = "POST", body, int64(bc.bodyLen)
				}
				runExchange(b, c, bc.ctx, req, resp, buf)
			}
			reportCPU(b, cpu)
		})
	}
}

// reportCPU adds the process CPU time per operation (client and the in-process upstream
// together): on a shared machine it is steadier than wall time, and the upstream's share is
// the same for every client measured against it.
func reportCPU(b *testing.B, start int64) {
	b.ReportMetric(float64(processCPU()-start)/float64(b.N)/1e3, "cpu-µs/op")
}

// BenchmarkNetHTTPTransport is the baseline: the same exchange through net/http's Transport,
// which aya's client replaces on the hot path.
func BenchmarkNetHTTPTransport(b *testing.B) {
	up := newTinyUpstream(b, tinyReply, 0)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequest("GET", "http://"+up.addr()+"/api/v1/items?page=2", nil)
	if err != nil {
		b.Fatal(err)
	}
	for _, f := range clientBenchRequest().Header[1:] {
		req.Header.Add(f.Name, f.Value)
	}
	buf := make([]byte, 32<<10)
	b.ReportAllocs()
	cpu := processCPU()
	for b.Loop() {
		resp, err := tr.RoundTrip(req)
		if err != nil {
			b.Fatal(err)
		}
		io.CopyBuffer(io.Discard, resp.Body, buf)
		resp.Body.Close()
	}
	reportCPU(b, cpu)
}

// TestClientDoAllocs holds the client to its promise: no allocation per exchange in steady
// state, with a context that cannot end and with one that can be canceled (what the server
// gives every request). A context with a deadline costs context.AfterFunc's two.
func TestClientDoAllocs(t *testing.T) {
	up := newTinyUpstream(t, tinyReply, 0)
	c := &Client{Addr: up.addr()}
	defer c.Close()
	req := clientBenchRequest()
	resp := &httpx.Response{Header: make(httpx.Header, 0, 16)}
	buf := make([]byte, 32<<10)
	cancelable, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, ctx := range []context.Context{context.Background(), cancelable} {
		runExchange(t, c, ctx, req, resp, buf)
		if n := testing.AllocsPerRun(200, func() { runExchange(t, c, ctx, req, resp, buf) }); n > 0 {
			t.Errorf("%v allocations per exchange, want 0", n)
		}
	}
}

// BenchmarkIdleCheck compares the two ways to notice that an upstream closed an idle
// connection, per reuse: a non-blocking peek (what the client does, and only for connections
// idle over a second), and a goroutine blocked in Read on every idle connection, which must
// be stopped (a past deadline, a handoff) when the connection is taken and restarted when it
// comes back.
func BenchmarkIdleCheck(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer a.Close()
	peer, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	defer peer.Close()
	c := &Client{}
	c.once.Do(c.setup)
	cc := c.newClientConn(a)

	b.Run("peek", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !cc.probe() {
				b.Fatal("probe: dead")
			}
		}
	})
	b.Run("background-reader", func(b *testing.B) {
		stopped := make(chan struct{})
		resume := make(chan struct{})
		go func() {
			var one [1]byte
			for range resume {
				a.Read(one[:]) // blocks until the deadline below wakes it
				stopped <- struct{}{}
			}
		}()
		defer close(resume)
		b.ReportAllocs()
		for b.Loop() {
			a.SetReadDeadline(time.Time{})
			resume <- struct{}{}               // put: the reader watches the idle conn
			a.SetReadDeadline(time.Unix(1, 0)) // get: wake and stop it
			<-stopped
		}
	})
}
