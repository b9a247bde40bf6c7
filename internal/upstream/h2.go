package upstream

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"aya/internal/httpx"
)

// H2Transport reaches a target over HTTP/2 only: cleartext with prior knowledge (h2c://, gRPC
// without TLS) or over TLS (https:// with protocol h2). It multiplexes every exchange over
// net/http's HTTP/2 connection pool, and carries trailers, which gRPC needs.
type H2Transport struct {
	t              *http.Transport
	scheme         string
	addr           string
	responseHeader time.Duration
}

// H2Options configure an H2Transport.
type H2Options struct {
	Addr           string      // host:port
	TLS            *tls.Config // nil: cleartext h2c
	DialTimeout    time.Duration
	ResponseHeader time.Duration // 0: none
	IdleTimeout    time.Duration
}

// NewH2 returns a transport for one HTTP/2 target.
func NewH2(o H2Options) *H2Transport {
	d := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
	var protos http.Protocols
	t := &http.Transport{
		DialContext:     d.DialContext,
		IdleConnTimeout: o.IdleTimeout,
		Protocols:       &protos,
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: 30 * time.Second,
			PingTimeout:     15 * time.Second,
		},
	}
	h := &H2Transport{t: t, addr: o.Addr, responseHeader: o.ResponseHeader}
	if o.TLS == nil {
		h.scheme = "http"
		protos.SetUnencryptedHTTP2(true)
	} else {
		h.scheme = "https"
		protos.SetHTTP2(true)
		cfg := o.TLS.Clone()
		cfg.NextProtos = []string{"h2"}
		t.TLSClientConfig = cfg
		t.TLSHandshakeTimeout = 10 * time.Second
	}
	return h
}

// Do sends req and fills resp. The caller must close resp.Body.
func (h *H2Transport) Do(ctx context.Context, req *httpx.Request, resp *httpx.Response) error {
	hr := &http.Request{
		Method:        req.Method,
		URL:           &url.URL{Scheme: h.scheme, Host: h.addr, Opaque: req.Path, RawQuery: req.Query},
		Proto:         "HTTP/2.0",
		ProtoMajor:    2,
		Header:        make(http.Header, len(req.Header)),
		ContentLength: req.ContentLength,
		Host:          h.addr,
	}
	for _, f := range req.Header {
		if httpx.EqualFold(f.Name, "Host") {
			hr.Host = f.Value
			continue
		}
		hr.Header[http.CanonicalHeaderKey(f.Name)] = append(hr.Header[http.CanonicalHeaderKey(f.Name)], f.Value)
	}
	if req.Body != nil && req.ContentLength != 0 {
		hr.Body = io.NopCloser(req.Body)
	}
	if h.responseHeader > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		timer := time.AfterFunc(h.responseHeader, cancel)
		defer timer.Stop()
		hres, err := h.t.RoundTrip(hr.WithContext(ctx))
		if err != nil {
			cancel()
			if !timer.Stop() {
				return &timeoutError{addr: h.addr}
			}
			return err
		}
		fillResponse(resp, hres, cancel)
		return nil
	}
	hres, err := h.t.RoundTrip(hr.WithContext(ctx))
	if err != nil {
		return err
	}
	fillResponse(resp, hres, nil)
	return nil
}

func fillResponse(resp *httpx.Response, hres *http.Response, cancel context.CancelFunc) {
	resp.Status = hres.StatusCode
	resp.Proto = hres.Proto
	resp.ContentLength = hres.ContentLength
	for k, vs := range hres.Header {
		for _, v := range vs {
			resp.Header = append(resp.Header, httpx.Field{Name: k, Value: v})
		}
	}
	resp.Body = &h2Body{hres: hres, resp: resp, cancel: cancel}
}

// h2Body copies the trailers into the aya response once the body ends: x/net/http2 fills
// http.Response.Trailer only at EOF.
type h2Body struct {
	hres   *http.Response
	resp   *httpx.Response
	cancel context.CancelFunc
	done   bool
}

func (b *h2Body) Read(p []byte) (int, error) {
	n, err := b.hres.Body.Read(p)
	if err == io.EOF && !b.done {
		b.done = true
		for k, vs := range b.hres.Trailer {
			for _, v := range vs {
				b.resp.Trailer = append(b.resp.Trailer, httpx.Field{Name: k, Value: v})
			}
		}
	}
	return n, err
}

func (b *h2Body) Close() error {
	err := b.hres.Body.Close()
	if b.cancel != nil {
		b.cancel()
	}
	return err
}

// Close drops idle connections.
func (h *H2Transport) Close() { h.t.CloseIdleConnections() }

type timeoutError struct{ addr string }

func (e *timeoutError) Error() string {
	return "upstream " + e.addr + ": timed out waiting for the response header"
}
func (e *timeoutError) Timeout() bool { return true }
