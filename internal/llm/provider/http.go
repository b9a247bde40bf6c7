// Package provider holds what every LLM provider adapter shares: the HTTP client that reaches
// a provider (base URL, key, extra headers, timeouts) and the handling of its error answers.
// The adapters themselves live in the sub-packages, one per provider API.
//
// It must not know routing, keys of aya's own clients, or how answers reach clients.
package provider

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"aya/internal/llm"
)

// Options configure the connection to one provider.
type Options struct {
	BaseURL string // scheme://host[:port][/prefix], without a trailing slash
	// Headers are sent with every request (the provider's auth header among them).
	Headers []Header
	// Connect bounds the TCP and TLS setup; FirstByte the wait for the response head (the
	// time to first token for streams); Total the whole call, stream included.
	Connect   time.Duration
	FirstByte time.Duration
	Total     time.Duration
	// TLS verifies an https provider (roots, client certificate, server name); nil: the
	// system roots and the base URL's host.
	TLS *tls.Config
}

// Header is one header field.
type Header struct{ Name, Value string }

// Client posts JSON to one provider.
//
// It uses aya's h1 client (system roots for https) unless a proxy from HTTP_PROXY/HTTPS_PROXY
// applies to the base URL, which net/http then handles: the gateway's added latency is counted
// in tenths of a millisecond, and net/http's Transport spends that on its per-connection
// goroutines alone. Providers speak HTTP/1.1; a call holds one connection while it lasts.
type Client struct {
	opts Options
	h1   *h1Transport // nil: net/http
	hc   *http.Client
}

// NewClient makes a client with its own connection pool.
func NewClient(o Options) *Client {
	d := &net.Dialer{Timeout: o.Connect, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   o.Connect,
		ResponseHeaderTimeout: o.FirstByte,
		// Compression would make the transport buffer and inflate; SSE must flow as written.
		DisableCompression: true,
		TLSClientConfig:    o.TLS,
	}
	o.BaseURL = strings.TrimSuffix(o.BaseURL, "/")
	return &Client{opts: o, h1: newH1Transport(o), hc: &http.Client{Transport: tr}}
}

// Close releases the connections: idle ones at once (net/http) or after closeGrace (h1).
func (c *Client) Close() {
	if c.h1 != nil {
		// A reload closes the old providers as it swaps in the new ones, while calls that
		// picked the old ones just before may not have sent yet: the h1 client refuses every
		// call after its Close, so it closes after a grace, as the gateway's removed targets do.
		time.AfterFunc(closeGrace, c.h1.c.Close)
	}
	c.hc.CloseIdleConnections()
}

// closeGrace is how long a closed Client still serves calls that chose it before its Close.
const closeGrace = 30 * time.Second

// ErrorDecoder reads a provider's error body with its status.
type ErrorDecoder func(status int, body []byte) *llm.Error

// Post sends body to path and returns the response when its status is 2xx. Otherwise it
// returns the provider's error, decoded by decode, with Retry-After read from the header.
// The caller closes the body; cancel ends the call's Total timeout and must be called once the
// body is done with.
func (c *Client) Post(ctx context.Context, path string, body []byte, extra []Header, decode ErrorDecoder) (resp *http.Response, cancel context.CancelFunc, err error) {
	// Always cancelable: FirstEvent cancels a stream whose first event is late.
	if c.opts.Total > 0 {
		ctx, cancel = context.WithTimeout(ctx, c.opts.Total)
	} else {
		ctx, cancel = context.WithCancel(ctx)
	}
	if c.h1 != nil {
		resp, err = c.h1.post(ctx, path, body, c.opts.Headers, extra)
	} else {
		resp, err = c.postStd(ctx, path, body, extra)
	}
	if err != nil {
		cancel()
		return nil, nil, llm.AsError(err)
	}
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		cancel()
		e := decode(resp.StatusCode, b)
		e.RetryAfter = RetryAfter(resp.Header)
		return nil, nil, e
	}
	return resp, cancel, nil
}

// postStd sends the call with net/http (through a proxy).
func (c *Client) postStd(ctx context.Context, path string, body []byte, extra []Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.opts.BaseURL+path, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("provider base_url %q: %w", c.opts.BaseURL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	for _, h := range c.opts.Headers {
		req.Header.Set(h.Name, h.Value)
	}
	for _, h := range extra {
		req.Header.Set(h.Name, h.Value)
	}
	return c.hc.Do(req)
}

// RetryAfter reads Retry-After (seconds or an HTTP date), or OpenAI's retry-after-ms.
func RetryAfter(h http.Header) time.Duration {
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms > 0 {
		return time.Duration(ms * float64(time.Millisecond))
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s > 0 {
		return time.Duration(s * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

// Call posts body to path and decodes the whole (non-streamed) answer with decode; a
// provider answer that does not decode is a 502, unless decode says what it is with an
// *llm.Error. Every adapter's Chat is this with its own
// wire format.
func (c *Client) Call(ctx context.Context, path string, body []byte, decodeErr ErrorDecoder, decode func([]byte) (*llm.Response, error)) (*llm.Response, error) {
	resp, cancel, err := c.Post(ctx, path, body, nil, decodeErr)
	if err != nil {
		return nil, err
	}
	defer cancel()
	defer resp.Body.Close()
	b, err := ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	out, err := decode(b)
	if e, ok := err.(*llm.Error); ok { // a 200 that is a refusal (Gemini's blocked prompt)
		return nil, e
	}
	if err != nil {
		return nil, llm.Errorf(502, llm.ErrServer, "%v", err)
	}
	return out, nil
}

// ReadAll reads a whole (non-streamed) answer, bounded so a broken provider cannot exhaust
// memory.
func ReadAll(r io.Reader) ([]byte, error) {
	const maxAnswer = 32 << 20
	b, err := io.ReadAll(io.LimitReader(r, maxAnswer+1))
	if err != nil {
		return nil, llm.AsError(err)
	}
	if len(b) > maxAnswer {
		return nil, llm.Errorf(502, llm.ErrServer, "the provider's answer is larger than %d bytes", maxAnswer)
	}
	return b, nil
}

// FirstEvent bounds the wait for a stream's first event by the FirstByte timeout: providers
// often send the response head at once and the first token much later, so the transport's
// header timeout alone would not catch a stalled stream. A late first event ends the call
// (cancel) and comes back as a retryable timeout, so the router can try another deployment.
func (c *Client) FirstEvent(s llm.Stream, cancel context.CancelFunc) llm.Stream {
	if c.opts.FirstByte <= 0 {
		return s
	}
	f := &firstEvent{Stream: s, limit: c.opts.FirstByte}
	f.timer = time.AfterFunc(c.opts.FirstByte, func() {
		f.fired.Store(true)
		cancel()
	})
	return f
}

type firstEvent struct {
	llm.Stream
	limit time.Duration
	timer *time.Timer
	fired atomic.Bool
	got   bool
}

func (f *firstEvent) Next() (llm.Event, error) {
	ev, err := f.Stream.Next()
	if !f.got {
		f.got = true
		f.timer.Stop()
		if err != nil && f.fired.Load() {
			return ev, llm.Errorf(504, llm.ErrTimeout, "the provider sent no first token within %v (timeouts.first_token)", f.limit)
		}
	}
	return ev, err
}

// Buffered passes on the stream's report that its next event is at hand (see the handler's
// flushing); a stream that cannot tell reports false.
func (f *firstEvent) Buffered() bool {
	b, ok := f.Stream.(interface{ Buffered() bool })
	return ok && b.Buffered()
}

func (f *firstEvent) Close() error {
	f.timer.Stop()
	return f.Stream.Close()
}

// Body ties a streamed answer's body to the call's timeout, so closing it ends both.
type Body struct {
	io.ReadCloser
	Cancel context.CancelFunc
}

// Close closes the body and ends the call.
func (b Body) Close() error {
	err := b.ReadCloser.Close()
	b.Cancel()
	return err
}
