// Package transform edits requests on their way upstream and responses on their way back:
// headers and query parameters (remove, rename, set, add, with ${...} variables filled from the
// request and what earlier policies learned), and JSON bodies by path, within a size bound.
//
// It also holds the Template other policies (redirect, aggregate) use for their ${...}
// values. It knows nothing of config files, routes or upstreams: the gateway compiles the
// config into Options.
package transform

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"strconv"
	"sync"

	"aya/internal/httpx"
	"aya/internal/policy"
	"aya/internal/proxy"
)

// Options are a transform's edits.
type Options struct {
	RequestHeaders  Fields
	RequestQuery    Fields
	RequestBody     Body
	ResponseHeaders Fields
	ResponseBody    Body
	// Log receives responses left unedited because they could not be (nil: slog.Default()).
	Log *slog.Logger
}

// transform is the built middleware's state; immutable and shared by every request.
type transform struct {
	Options
	next httpx.Handler
}

// New returns the middleware for o. Query values written in o are plain text: New
// percent-encodes their literal parts.
func New(o Options) policy.Middleware {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	o.RequestQuery = escapeQueryValues(o.RequestQuery)
	return func(next httpx.Handler) httpx.Handler {
		return &transform{Options: o, next: next}
	}
}

func escapeQueryValues(f Fields) Fields {
	esc := func(vs []Value) []Value {
		out := make([]Value, len(vs))
		for i, v := range vs {
			out[i] = Value{Name: v.Name, Value: v.Value.withEscapedLiterals(Query)}
		}
		return out
	}
	f.Set, f.Add = esc(f.Set), esc(f.Add)
	return f
}

func (t *transform) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	t.RequestHeaders.applyHeader(&r.Header, r)
	if !t.RequestQuery.empty() {
		r.Query = t.RequestQuery.applyQuery(r.Query, r)
	}
	if !t.RequestBody.empty() && r.ContentLength != 0 && isJSON(r.Header.Get("Content-Type")) {
		if !t.editRequestBody(w, r) {
			return
		}
	}
	if t.ResponseHeaders.empty() && t.ResponseBody.empty() {
		t.next.ServeHTTPX(w, r)
		return
	}
	hw := respWriters.Get().(*hijackWriter)
	hw.start(w, r, t)
	if hj, ok := w.(httpx.Hijacker); ok {
		hw.hj = hj
		t.next.ServeHTTPX(hw, r)
	} else {
		t.next.ServeHTTPX(&hw.respWriter, r)
	}
	hw.finish()
	hw.release()
}

// editRequestBody reads the JSON body (bounded), edits it and puts the result in its place
// with a fixed-up length. On a problem it answers the client and reports false.
func (t *transform) editRequestBody(w httpx.ResponseWriter, r *httpx.Request) bool {
	limit := t.RequestBody.MaxSize
	if encoded(r.Header) {
		proxy.WriteError(w, r, 415, "transform cannot edit a "+r.Header.Get("Content-Encoding")+"-encoded JSON body: send it unencoded")
		return false
	}
	if r.ContentLength > limit {
		r.Close = true
		proxy.WriteError(w, r, 413, "request body larger than the transform's max_size ("+strconv.FormatInt(limit, 10)+" bytes)")
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	switch {
	case err != nil:
		r.Close = true
		proxy.WriteError(w, r, 400, "malformed or incomplete request body")
		return false
	case int64(len(body)) > limit:
		r.Close = true
		proxy.WriteError(w, r, 413, "request body larger than the transform's max_size ("+strconv.FormatInt(limit, 10)+" bytes)")
		return false
	}
	if len(body) == 0 { // a chunked body with no chunks: nothing to edit
		r.Body, r.ContentLength = httpx.NoBody, 0
		return true
	}
	out, err := t.RequestBody.apply(body, r)
	if err != nil {
		msg := "request body is not valid JSON"
		if errors.Is(err, errDuplicate) {
			msg = "request body has a " + err.Error() + ": send each key once"
		}
		proxy.WriteError(w, r, 400, msg)
		return false
	}
	r.Body = bytes.NewReader(out)
	r.ContentLength = int64(len(out))
	if r.Header.Has("Content-Length") {
		r.Header.Set("Content-Length", strconv.Itoa(len(out)))
	}
	return true
}

var respWriters = sync.Pool{New: func() any { return new(hijackWriter) }}
