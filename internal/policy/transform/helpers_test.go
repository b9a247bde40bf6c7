package transform

import (
	"bytes"
	"context"
	"net/netip"
	"strings"

	"aya/internal/httpx"
	"aya/internal/policy"
)

// recorder is a ResponseWriter that keeps what it was sent.
type recorder struct {
	h       httpx.Header
	status  int
	body    bytes.Buffer
	flushes int
}

func (r *recorder) Header() *httpx.Header { return &r.h }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(200)
	return r.body.Write(p)
}
func (r *recorder) Flush() error { r.flushes++; return nil }

// newRequest is a request as the gateway hands it to policies, with alice authenticated.
func newRequest(method, target, body string, hdr ...string) *httpx.Request {
	path, query, _ := strings.Cut(target, "?")
	r := &httpx.Request{
		Method: method, Target: target, Path: path, Query: query, Host: "api.example.com",
		ID: "req-1", ClientIP: netip.MustParseAddr("192.0.2.7"), Body: strings.NewReader(body),
		ContentLength: int64(len(body)), Header: make(httpx.Header, 0, 16),
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	st := &policy.State{Route: "api", Consumer: &policy.Consumer{Name: "alice"},
		Claims: []httpx.Field{{Name: "sub", Value: "u-42"}, {Name: "evil", Value: "a\r\nX-Admin: 1"}}}
	r.SetContext(policy.WithState(context.Background(), st))
	return r
}

func values(kv ...string) []Value {
	var out []Value
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, Value{Name: kv[i], Value: MustCompile(kv[i+1])})
	}
	return out
}

func jsonValues(kv ...string) []JSONValue {
	var out []JSONValue
	for i := 0; i+1 < len(kv); i += 2 {
		v, err := NewJSONValue(kv[i], kv[i+1])
		if err != nil {
			panic(err)
		}
		out = append(out, v)
	}
	return out
}

// upstreamFunc answers like an upstream through the proxy: header with Content-Length, body.
func upstreamFunc(status int, ct, body string, withLength bool) httpx.HandlerFunc {
	return func(w httpx.ResponseWriter, r *httpx.Request) {
		h := w.Header()
		if ct != "" {
			h.Set("Content-Type", ct)
		}
		if withLength {
			h.Set("Content-Length", itoa(len(body)))
		}
		w.WriteHeader(status)
		// Two writes, as a streamed body arrives.
		half := len(body) / 2
		w.Write([]byte(body[:half]))
		w.Flush()
		w.Write([]byte(body[half:]))
	}
}

func itoa(n int) string {
	return string(appendInt(nil, n))
}

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}
