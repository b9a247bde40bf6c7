package demo

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestEchoDescribesRequest(t *testing.T) {
	base := startEcho(t, EchoOptions{Name: "a"})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/some/path?x=1&y=2", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "example.test"
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	resp, body := do(t, http.DefaultClient, req)
	if resp.StatusCode != http.StatusOK || resp.Header.Get(BackendHeader) != "a" {
		t.Fatalf("status %d backend %q", resp.StatusCode, resp.Header.Get(BackendHeader))
	}
	got := decode[EchoReply](t, body)
	want := EchoReply{Backend: "a", Method: "POST", Path: "/some/path", Query: "x=1&y=2", Host: "example.test", Proto: "HTTP/1.1", BodyBytes: 5}
	if got.Backend != want.Backend || got.Method != want.Method || got.Path != want.Path || got.Query != want.Query ||
		got.Host != want.Host || got.Proto != want.Proto || got.BodyBytes != want.BodyBytes {
		t.Errorf("got %+v\nwant %+v", got, want)
	}
	if xff := got.Headers.Get("X-Forwarded-For"); xff != "203.0.113.7" {
		t.Errorf("X-Forwarded-For echoed as %q", xff)
	}
	if !strings.HasPrefix(got.RemoteAddr, "127.0.0.1:") {
		t.Errorf("remote_addr %q", got.RemoteAddr)
	}
}

func TestEchoEndpoints(t *testing.T) {
	base := startEcho(t, EchoOptions{Name: "b"})
	tests := []struct {
		path       string
		wantStatus int
		wantBody   string // substring
	}{
		{"/healthz", 200, "ok"},
		{"/status/503", 503, `"backend":"b"`},
		{"/status/204", 204, ""},
		{"/status/42", 400, "between 200 and 599"},
		{"/anything?status=502", 502, `"path":"/anything"`},
		{"/healthz?status=502", 200, "ok"},
		{"/status/200?status=418", 418, `"path":"/status/200"`},
		{"/x?status=abc", 400, "status"},
		{"/delay/10ms", 200, `"path":"/delay/10ms"`},
		{"/delay/forever", 400, "duration"},
		{"/x?latency=-1s", 400, "latency"},
		{"/sse?n=x", 400, "query n"},
		{"/bytes?n=-1", 400, "query n"},
		{"/chunked?size=0", 400, "query size"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp, body := get(t, http.DefaultClient, base+tt.path)
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			if resp.Header.Get(BackendHeader) != "b" {
				t.Errorf("X-Demo-Backend %q", resp.Header.Get(BackendHeader))
			}
			if !strings.Contains(string(body), tt.wantBody) {
				t.Errorf("body %q lacks %q", body, tt.wantBody)
			}
		})
	}
}

func TestEchoHeaders(t *testing.T) {
	base := startEcho(t, EchoOptions{Name: "h"})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/headers", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = "api.test"
	req.Header.Add("X-Multi", "1")
	req.Header.Add("X-Multi", "2")
	_, body := do(t, http.DefaultClient, req)
	h := decode[http.Header](t, body)
	if h.Get("Host") != "api.test" || strings.Join(h.Values("X-Multi"), ",") != "1,2" {
		t.Errorf("headers %v", h)
	}
}

func TestLatency(t *testing.T) {
	tests := []struct {
		name    string
		opts    EchoOptions
		path    string
		atLeast time.Duration
	}{
		{"configured", EchoOptions{Latency: 60 * time.Millisecond}, "/", 60 * time.Millisecond},
		{"query overrides", EchoOptions{Latency: time.Hour}, "/?latency=50ms", 50 * time.Millisecond},
		{"delay endpoint", EchoOptions{}, "/delay/70ms", 70 * time.Millisecond},
		{"healthz exempt", EchoOptions{Latency: time.Hour}, "/healthz", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base := startEcho(t, tt.opts)
			start := time.Now()
			resp, _ := get(t, http.DefaultClient, base+tt.path)
			if took := time.Since(start); took < tt.atLeast || took > tt.atLeast+2*time.Second {
				t.Errorf("took %s, want about %s", took, tt.atLeast)
			}
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d", resp.StatusCode)
			}
		})
	}
}

func TestDelayStopsWhenClientLeaves(t *testing.T) {
	base := startEcho(t, EchoOptions{})
	c := &http.Client{Timeout: 50 * time.Millisecond}
	if _, err := c.Get(base + "/delay/1m"); err == nil {
		t.Fatal("want a client timeout")
	}
	// The server must still answer promptly: the abandoned sleep did not hold anything.
	resp, _ := get(t, http.DefaultClient, base+"/healthz")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestErrorRateIsSeededAndProportional(t *testing.T) {
	sequence := func(seed uint64) string {
		base := startEcho(t, EchoOptions{Name: "e", ErrorRate: 0.3, Seed: seed})
		var b strings.Builder
		for range 200 {
			resp, _ := get(t, http.DefaultClient, base+"/")
			if resp.StatusCode == http.StatusInternalServerError {
				b.WriteByte('x')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, b, c := sequence(1), sequence(1), sequence(2)
	if a != b {
		t.Errorf("same seed gave different sequences:\n%s\n%s", a, b)
	}
	if a == c {
		t.Errorf("different seeds gave the same sequence")
	}
	if n := strings.Count(a, "x"); n < 30 || n > 90 {
		t.Errorf("%d errors in 200 at rate 0.3", n)
	}
}

func TestJitterStaysInRange(t *testing.T) {
	f := newFaults(EchoOptions{Latency: 10 * time.Millisecond, Jitter: 5 * time.Millisecond, Seed: 7})
	for range 1000 {
		d, fail := f.draw()
		if d < 10*time.Millisecond || d >= 15*time.Millisecond || fail {
			t.Fatalf("draw %s %v", d, fail)
		}
	}
}
