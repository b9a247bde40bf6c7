package provider

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"aya/internal/h1"
	"aya/internal/httpx"
	"aya/internal/llm"
)

// h1Transport reaches a provider with aya's own HTTP/1.1 client: an exchange reuses the
// connection's buffers, starts no goroutine and reads the body straight off the socket,
// where net/http's Transport runs a reader and a writer goroutine per connection and hands
// every response between them. Every LLM API aya calls speaks HTTP/1.1.
type h1Transport struct {
	c      *h1.Client
	host   string // the Host field: the base URL's host, as net/http sends it
	prefix string // the base URL's path, without a trailing slash
	// query is the base URL's query (rare: an Azure-style api-version), put before the path's.
	query string
}

// newH1Transport serves base URLs with an http or https scheme that no proxy applies to;
// others (a proxy from HTTP_PROXY/HTTPS_PROXY, another scheme) get nil and stay with
// net/http, which knows proxies.
func newH1Transport(o Options) *h1Transport {
	u, err := url.Parse(o.BaseURL)
	if err != nil || u.Host == "" || u.User != nil || u.Scheme != "http" && u.Scheme != "https" {
		return nil
	}
	if p, err := http.ProxyFromEnvironment(&http.Request{URL: u}); err != nil || p != nil {
		return nil
	}
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	c := &h1.Client{
		Addr: net.JoinHostPort(u.Hostname(), port),
		// HTTP/1.1 carries one call per connection, and LLM calls are long: a burst of a few
		// hundred concurrent calls should find its TLS connections again on the next one.
		MaxIdle:     256,
		IdleTimeout: 90 * time.Second,
		DialTimeout: orNone(o.Connect),
		// Connect bounds the TCP connect and the TLS handshake each, as it did with net/http.
		TLSHandshakeTimeout:   orNone(o.Connect),
		ResponseHeaderTimeout: orNone(o.FirstByte),
		// A stream may pause between events for as long as the model thinks: only Total
		// (the context's deadline) bounds the body.
		ReadTimeout: -1,
	}
	if u.Scheme == "https" {
		c.TLS = &tls.Config{}
		if o.TLS != nil {
			c.TLS = o.TLS.Clone()
		}
		if c.TLS.ServerName == "" {
			c.TLS.ServerName = u.Hostname()
		}
		c.TLS.NextProtos = []string{"http/1.1"}
	}
	return &h1Transport{c: c, host: u.Host, prefix: strings.TrimSuffix(u.Path, "/"), query: u.RawQuery}
}

// orNone maps "not set" (0) to the h1 client's "no timeout" (negative).
func orNone(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}

// exchange is one call's request and response, and the response body handed to the adapter.
// It is not pooled: a body closed twice, or read after its close, must not reach another
// call's connection.
type exchange struct {
	req    httpx.Request
	resp   httpx.Response
	body   bytes.Reader
	fields [8]httpx.Field // the request's header, without an allocation for the usual few
	closed bool
}

// post sends body to path (which may carry a ?query) with Content-Type, then the fields of
// base, then those of extra (a later one replaces an earlier one of the same name), and
// returns the response. Its body must be closed; its header is a copy, valid after that.
func (t *h1Transport) post(ctx context.Context, path string, body []byte, base, extra []Header) (*http.Response, error) {
	x := &exchange{}
	path, query, _ := strings.Cut(path, "?")
	if t.query != "" {
		query = joinQuery(t.query, query)
	}
	x.body.Reset(body)
	x.req = httpx.Request{Method: http.MethodPost, Path: t.prefix + path, Query: query, ContentLength: int64(len(body)), Body: &x.body}
	hd := httpx.Header(append(x.fields[:0],
		httpx.Field{Name: "Host", Value: t.host},
		httpx.Field{Name: "User-Agent", Value: "aya"},
		httpx.Field{Name: "Content-Type", Value: "application/json"}))
	for _, h := range base {
		hd.Set(h.Name, h.Value)
	}
	for _, h := range extra {
		hd.Set(h.Name, h.Value)
	}
	x.req.Header = hd
	if err := t.c.Do(ctx, &x.req, &x.resp); err != nil {
		return nil, asError(err)
	}
	return &http.Response{StatusCode: x.resp.Status, ContentLength: x.resp.ContentLength, Body: x,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: copyHeader(x.resp.Header)}, nil
}

// copyHeader copies a response head out of the connection's buffer into net/http's type
// with a handful of allocations, not three per field: one string holds every name and
// value, one slice every value.
func copyHeader(fields httpx.Header) http.Header {
	n := 0
	for _, f := range fields {
		n += len(f.Name) + len(f.Value)
	}
	var sb strings.Builder
	sb.Grow(n)
	for _, f := range fields {
		sb.WriteString(f.Name)
		sb.WriteString(f.Value)
	}
	all := sb.String()
	vals := make([]string, len(fields))
	h := make(http.Header, len(fields))
	off := 0
	for i, f := range fields {
		name := all[off : off+len(f.Name)]
		off += len(f.Name)
		vals[i] = all[off : off+len(f.Value)]
		off += len(f.Value)
		key := textproto.CanonicalMIMEHeaderKey(name) // the name itself when already canonical
		if old, ok := h[key]; ok {
			h[key] = append(old, vals[i])
		} else {
			h[key] = vals[i : i+1 : i+1]
		}
	}
	return h
}

func joinQuery(a, b string) string {
	if b == "" {
		return a
	}
	return a + "&" + b
}

func (x *exchange) Read(p []byte) (int, error) {
	if x.closed {
		return 0, errors.New("read after close")
	}
	n, err := x.resp.Body.Read(p)
	if err != nil && err != io.EOF {
		err = asError(err)
	}
	return n, err
}

// Close releases the connection (to the pool when the body was read to its end) and the
// exchange. A second Close does nothing.
func (x *exchange) Close() error {
	if x.closed {
		return nil
	}
	x.closed = true
	return x.resp.Body.Close()
}

// asError words the h1 client's failures for an LLM client: a timeout is a retryable 504, any
// other failure a 502 naming the provider's address, without the proxy's hints about routes.
func asError(err error) error {
	var he *h1.Error
	if !errors.As(err, &he) {
		return err
	}
	cause := he.Op + ": " + he.Err.Error()
	switch {
	case he.Timeout():
		return &llm.Error{Status: 504, Type: llm.ErrTimeout, Message: "the provider at " + he.Addr + " did not answer in time: " + cause}
	case he.Op == "read response body":
		return &llm.Error{Status: 502, Type: llm.ErrServer, Message: "the provider's answer from " + he.Addr + " broke off: " + cause}
	}
	return &llm.Error{Status: 502, Type: llm.ErrServer, Message: "could not reach the provider at " + he.Addr + ": " + cause}
}
