// Package aggregate answers one request by calling several upstreams in parallel and merging
// their JSON answers into one object, {"user": {...}, "orders": [...]}. A call that fails and
// is required fails the whole answer (502, naming the call); an optional one becomes null, with
// the reason under "errors".
//
// It knows nothing of config or pools: each call gets a handler (the gateway's proxy to that
// upstream) and is served like any request, into a buffer this package owns.
package aggregate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/gjson"

	"aya/internal/httpx"
	"aya/internal/policy"
	"aya/internal/policy/transform"
	"aya/internal/proxy"
)

// Call is one upstream call.
type Call struct {
	Name    string
	Handler httpx.Handler // serves the call (the proxy to its upstream)
	Method  string
	// Path is the path (and optional ?query) to call, with variables such as ${param.id}.
	Path     *transform.Template
	Timeout  time.Duration
	Required bool
}

// Options are an aggregation's calls.
type Options struct {
	Calls []Call
	// MaxSize bounds each call's answer; a longer one fails the call.
	MaxSize int64
	Log     *slog.Logger
}

// New returns the middleware; it answers every request itself.
func New(o Options) (policy.Middleware, error) {
	if len(o.Calls) == 0 {
		return nil, errors.New("aggregate: no calls")
	}
	if o.MaxSize <= 0 {
		return nil, errors.New("aggregate: max_size must be above 0")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	seen := map[string]bool{}
	for _, c := range o.Calls {
		if c.Name == "" || c.Name == "errors" || seen[c.Name] || c.Handler == nil || c.Path == nil || c.Timeout <= 0 {
			return nil, fmt.Errorf("aggregate: call %q: needs a unique name other than errors, a handler, a path and a timeout", c.Name)
		}
		seen[c.Name] = true
	}
	a := &aggregate{o: o}
	return func(httpx.Handler) httpx.Handler { return a }, nil
}

type aggregate struct {
	o Options
}

// result is one call's outcome: its JSON, or why it failed.
type result struct {
	body []byte
	err  string
}

func (a *aggregate) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	results := make([]result, len(a.o.Calls))
	// The first required call to fail cancels the others: the answer is a 502 whatever they
	// bring, so there is no point in waiting for them.
	ctx, cancel := context.WithCancel(detached{r.Context()})
	defer cancel()
	var firstFailed atomic.Int32
	firstFailed.Store(-1)
	var wg sync.WaitGroup
	for i := range a.o.Calls {
		wg.Go(func() {
			c := &a.o.Calls[i]
			results[i] = a.call(ctx, c, r)
			if c.Required && results[i].err != "" && firstFailed.CompareAndSwap(-1, int32(i)) {
				cancel()
			}
		})
	}
	// Waiting for every call keeps r's strings (which the calls read) alive until no goroutine
	// uses them; the calls' timeouts and the cancel above bound the wait.
	wg.Wait()

	if i := firstFailed.Load(); i >= 0 {
		c := &a.o.Calls[i]
		proxy.WriteError(w, r, 502, "aggregate call "+strconv.Quote(c.Name)+" failed: "+results[i].err)
		return
	}
	out := make([]byte, 0, 256)
	out = append(out, '{')
	failed := map[string]string{}
	for i, c := range a.o.Calls {
		if i > 0 {
			out = append(out, ',')
		}
		out = strconv.AppendQuote(out, c.Name)
		out = append(out, ':')
		if res := results[i]; res.err != "" {
			failed[c.Name] = res.err
			out = append(out, "null"...)
		} else {
			out = append(out, res.body...)
		}
	}
	if len(failed) > 0 {
		errs, _ := json.Marshal(failed)
		out = append(out, `,"errors":`...)
		out = append(out, errs...)
	}
	out = append(out, '}', '\n')

	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(out)))
	if r.ID != "" {
		h.Set("X-Request-ID", r.ID)
	}
	w.WriteHeader(200)
	if r.Method != "HEAD" {
		w.Write(out)
	}
}

// call runs one call under its own timeout and judges its answer.
func (a *aggregate) call(parent context.Context, c *Call, r *httpx.Request) result {
	ctx, cancel := context.WithTimeout(parent, c.Timeout)
	defer cancel()
	sub := subRequest(c, r)
	sub.SetContext(ctx)
	bw := &bufWriter{max: a.o.MaxSize}
	c.Handler.ServeHTTPX(bw, sub)
	res := judge(bw, ctx, c)
	if res.err != "" {
		// Optional failures are part of normal answers (null plus "errors"): debug only.
		level := slog.LevelDebug
		if c.Required {
			level = slog.LevelWarn
		}
		a.o.Log.Log(parent, level, "aggregate call failed", "call", c.Name, "request_id", r.ID, "required", c.Required, "error", res.err)
	}
	return res
}

func judge(bw *bufWriter, ctx context.Context, c *Call) result {
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return result{err: "timed out after " + c.Timeout.String()}
	case ctx.Err() != nil:
		return result{err: "canceled (the client went away, or a required call failed)"}
	case bw.tooLarge:
		return result{err: "answer larger than max_size"}
	case bw.status < 200 || bw.status > 299:
		return result{err: "upstream answered " + strconv.Itoa(bw.status)}
	case len(bw.body) == 0:
		return result{body: []byte("null")}
	case !gjson.ValidBytes(bw.body):
		return result{err: "answer is not JSON"}
	}
	return result{body: bw.body}
}

// subRequest is r re-aimed at the call's path, without a body. Headers that would make the
// answer something other than plain JSON (compression, ranges, conditional 304s) or that
// describe the client's body are left out.
func subRequest(c *Call, r *httpx.Request) *httpx.Request {
	target := string(c.Path.Append(make([]byte, 0, 64), r, transform.Path))
	path, query, _ := strings.Cut(target, "?")
	sub := &httpx.Request{
		Method: c.Method, Target: target, Path: path, Query: query, Host: r.Host,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: make(httpx.Header, 0, len(r.Header)), Body: httpx.NoBody,
		RemoteAddr: r.RemoteAddr, ClientIP: r.ClientIP, LocalAddr: r.LocalAddr,
		Listener: r.Listener, TLS: r.TLS, ID: r.ID, Params: r.Params,
	}
	for _, f := range r.Header {
		if !dropped(f.Name) {
			sub.Header = append(sub.Header, f)
		}
	}
	return sub
}

func dropped(name string) bool {
	for _, d := range [...]string{"Accept-Encoding", "Content-Length", "Content-Type", "Content-Encoding",
		"Transfer-Encoding", "Expect", "Range", "If-Range", "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since"} {
		if httpx.EqualFold(name, d) {
			return true
		}
	}
	return false
}

// detached carries the client request's cancellation but none of its values: the calls run in
// parallel, and the per-request state behind those values (the access record, the trace) is
// written by one goroutine at a time only.
type detached struct{ context.Context }

func (detached) Value(any) any { return nil }

// bufWriter keeps a call's answer, up to max bytes.
type bufWriter struct {
	h        httpx.Header
	status   int
	body     []byte
	max      int64
	tooLarge bool
}

var errTooLarge = errors.New("aggregate: answer larger than max_size")

func (b *bufWriter) Header() *httpx.Header { return &b.h }

func (b *bufWriter) WriteHeader(status int) {
	if b.status == 0 && status >= 200 {
		b.status = status
	}
}

func (b *bufWriter) Write(p []byte) (int, error) {
	b.WriteHeader(200)
	if int64(len(b.body)+len(p)) > b.max {
		b.tooLarge = true
		return 0, errTooLarge
	}
	b.body = append(b.body, p...)
	return len(p), nil
}

func (b *bufWriter) Flush() error { return nil }
