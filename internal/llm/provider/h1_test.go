package provider

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"aya/internal/httpx"
	"aya/internal/llm"
)

func decodeTestError(status int, body []byte) *llm.Error {
	return &llm.Error{Status: status, Type: llm.TypeForStatus(status), Message: string(body)}
}

// countingServer counts the connections it accepts.
func countingServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func TestH1Transport(t *testing.T) {
	srv, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Method+" "+r.URL.RequestURI()+" "+r.Host+" "+r.Header.Get("Content-Type")+" "+
			r.Header.Get("X-Api-Key")+" "+r.Header.Get("X-Extra")+" "+string(b))
		if r.URL.Query().Get("fail") != "" {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(429)
			io.WriteString(w, "slow down")
			return
		}
		io.WriteString(w, "ok")
	})
	c := NewClient(Options{BaseURL: srv.URL + "/v1?api-version=2", Connect: time.Second, FirstByte: time.Second, Total: 5 * time.Second,
		Headers: []Header{{Name: "X-Api-Key", Value: "k"}, {Name: "X-Extra", Value: "base"}}})
	defer c.Close()
	if c.h1 == nil {
		t.Fatal("a plain-HTTP base URL without a proxy should use the h1 transport")
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	tests := []struct {
		name, path string
		extra      []Header
		want       string
	}{
		{"base headers and prefix", "/chat/completions", nil, "POST /v1/chat/completions?api-version=2 " + host + " application/json k base {}"},
		{"extra replaces base", "/chat/completions", []Header{{Name: "x-extra", Value: "call"}}, "POST /v1/chat/completions?api-version=2 " + host + " application/json k call {}"},
		{"path query joins base query", "/x?alt=sse", nil, "POST /v1/x?api-version=2&alt=sse " + host + " application/json k base {}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, cancel, err := c.Post(context.Background(), tt.path, []byte("{}"), tt.extra, decodeTestError)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			resp.Body.Close() // a second close does nothing
			cancel()
			if got := resp.Header.Get("X-Seen"); got != tt.want || string(b) != "ok" {
				t.Fatalf("server saw %q, body %q; want %q", got, b, tt.want)
			}
		})
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("%d connections for sequential calls, want 1 (reuse)", n)
	}
	_, _, err := c.Post(context.Background(), "/x?fail=1", []byte("{}"), nil, decodeTestError)
	var e *llm.Error
	if !errors.As(err, &e) || e.Status != 429 || e.Message != "slow down" || e.RetryAfter != 7*time.Second {
		t.Fatalf("got %#v", err)
	}
	// A reload closes the old client while calls that chose it may still start.
	c.Close()
	resp, cancel, err := c.Post(context.Background(), "/after-close", []byte("{}"), nil, decodeTestError)
	if err != nil {
		t.Fatalf("a call just after Close: %v", err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	cancel()
}

// TestH1TransportStreamAndCancel: a streamed body arrives event by event, not buffered, and a
// caller that leaves mid-stream ends the read at once.
func TestH1TransportStreamAndCancel(t *testing.T) {
	next := make(chan struct{})
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for {
			io.WriteString(w, "data: x\n\n")
			w.(http.Flusher).Flush()
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
		}
	})
	c := NewClient(Options{BaseURL: srv.URL, Connect: time.Second, FirstByte: time.Second, Total: 5 * time.Second})
	defer c.Close()
	ctx, leave := context.WithCancel(context.Background())
	resp, cancel, err := c.Post(ctx, "/s", []byte("{}"), nil, decodeTestError)
	if err != nil {
		t.Fatal(err)
	}
	defer cancel()
	defer resp.Body.Close()
	buf := make([]byte, 64)
	for range 2 {
		n, err := resp.Body.Read(buf)
		if err != nil || string(buf[:n]) != "data: x\n\n" {
			t.Fatalf("read %q, %v", buf[:n], err)
		}
		next <- struct{}{}
	}
	start := time.Now()
	time.AfterFunc(50*time.Millisecond, leave)
	var rerr error
	for rerr == nil {
		_, rerr = resp.Body.Read(buf)
	}
	if time.Since(start) > time.Second {
		t.Fatalf("the read ended %v after the caller left", time.Since(start))
	}
}

func TestH1TransportTimeouts(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/body" {
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	tests := []struct {
		name  string
		path  string
		first time.Duration
		total time.Duration
	}{
		{"first byte", "/head", 100 * time.Millisecond, 5 * time.Second},
		{"total, before the head", "/head", 0, 100 * time.Millisecond},
		{"total, in the body", "/body", time.Second, 100 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := NewClient(Options{BaseURL: srv.URL, Connect: time.Second, FirstByte: tt.first, Total: tt.total})
			defer c.Close()
			start := time.Now()
			resp, cancel, err := c.Post(context.Background(), tt.path, []byte("{}"), nil, decodeTestError)
			if err == nil {
				_, err = ReadAll(resp.Body)
				resp.Body.Close()
				cancel()
			}
			var e *llm.Error
			if !errors.As(err, &e) || e.Status != 504 || e.Type != llm.ErrTimeout || time.Since(start) > 2*time.Second {
				t.Fatalf("got %v after %v", err, time.Since(start))
			}
		})
	}
}

func TestH1TransportConnectFailure(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := NewClient(Options{BaseURL: "http://" + addr, Connect: time.Second, Total: time.Second})
	defer c.Close()
	_, _, err = c.Post(context.Background(), "/x", []byte("{}"), nil, decodeTestError)
	var e *llm.Error
	if !errors.As(err, &e) || e.Status != 502 || !e.Retryable() || !strings.Contains(e.Message, addr) {
		t.Fatalf("got %#v", err)
	}
}

func TestNewH1TransportChoice(t *testing.T) {
	tests := []struct {
		base string
		h1   bool
		addr string
	}{
		{"http://127.0.0.1:8000/v1", true, "127.0.0.1:8000"},
		{"https://api.openai.com/v1", true, "api.openai.com:443"},
		{"http://[::1]/v1", true, "[::1]:80"},
		{"unix:///run/llm.sock", false, ""},
		{"http://user:pw@127.0.0.1/v1", false, ""},
	}
	for _, tt := range tests {
		tr := newH1Transport(Options{BaseURL: tt.base})
		if (tr != nil) != tt.h1 || tr != nil && tr.c.Addr != tt.addr {
			t.Errorf("%s: got %+v", tt.base, tr)
		}
		if tr != nil && strings.HasPrefix(tt.base, "https") && (tr.c.TLS == nil || tr.c.TLS.NextProtos[0] != "http/1.1") {
			t.Errorf("%s: TLS config %+v", tt.base, tr.c.TLS)
		}
	}
}

func TestCopyHeader(t *testing.T) {
	in := httpx.Header{{Name: "content-type", Value: "application/json"}, {Name: "X-Ratelimit-Remaining", Value: "9"},
		{Name: "set-cookie", Value: "a=1"}, {Name: "Set-Cookie", Value: "b=2"}, {Name: "Empty", Value: ""}}
	want := http.Header{"Content-Type": {"application/json"}, "X-Ratelimit-Remaining": {"9"}, "Set-Cookie": {"a=1", "b=2"}, "Empty": {""}}
	if got := copyHeader(in); !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func BenchmarkCopyHeader(b *testing.B) {
	in := httpx.Header{{Name: "Content-Type", Value: "application/json"}, {Name: "Date", Value: "Thu, 26 Nov 2026 04:40:00 GMT"},
		{Name: "x-request-id", Value: "req_123"}, {Name: "openai-processing-ms", Value: "231"}, {Name: "x-ratelimit-remaining-requests", Value: "9999"}}
	b.ReportAllocs()
	for b.Loop() {
		copyHeader(in)
	}
}
