// Package limits is the request_limits policy: per-route bounds on the request's size (body,
// header fields, query) and on how long the rest of the route's chain may take.
//
// The listener's own limits (request line, header bytes and count) still apply first; these
// are usually stricter ones for one route. It must not know about config or routes.
package limits

import (
	"context"
	"io"
	"strconv"
	"sync"
	"time"

	"aya/internal/httpx"
	"aya/internal/policy"
	"aya/internal/proxy"
)

// Options are the limits; 0 turns one off.
type Options struct {
	// MaxBody is the largest request body in bytes: 413. A declared Content-Length above it is
	// refused before any byte is read; a body of unknown length (chunked, HTTP/2) is counted
	// as it streams and fails once it passes the limit.
	MaxBody int64
	// MaxHeaderCount is the most header fields: 431.
	MaxHeaderCount int
	// MaxHeaderBytes bounds the header fields as sent on HTTP/1.1 ("Name: value\r\n" each):
	// 431.
	MaxHeaderBytes int
	// MaxQueryLength bounds the raw query string (without "?"): 414.
	MaxQueryLength int
	// Timeout bounds everything after this policy in the chain, the upstream exchange
	// included; when it passes, the proxy answers 504.
	Timeout time.Duration
}

// Limits is a built request_limits policy.
type Limits struct {
	o       Options
	bodyMsg string
	bodies  sync.Pool // *countingBody, for bodies of unknown length
}

// New builds the policy.
func New(o Options) *Limits {
	return &Limits{
		o:       o,
		bodyMsg: "request body larger than this route's limit of " + strconv.FormatInt(o.MaxBody, 10) + " bytes",
		bodies:  sync.Pool{New: func() any { return new(countingBody) }},
	}
}

// Check returns the status and message to refuse r with, or 0 when its head is within the
// limits. The body of unknown length is checked later, as it is read.
func (l *Limits) Check(r *httpx.Request) (int, string) {
	o := &l.o
	if o.MaxQueryLength > 0 && len(r.Query) > o.MaxQueryLength {
		return 414, "query string longer than this route allows"
	}
	if o.MaxHeaderCount > 0 && len(r.Header) > o.MaxHeaderCount {
		return 431, "too many header fields for this route"
	}
	if o.MaxHeaderBytes > 0 {
		n := 0
		for i := range r.Header {
			n += len(r.Header[i].Name) + len(r.Header[i].Value) + 4
		}
		if n > o.MaxHeaderBytes {
			return 431, "header fields larger than this route allows"
		}
	}
	if o.MaxBody > 0 && r.ContentLength > o.MaxBody {
		return 413, l.bodyMsg
	}
	return 0, ""
}

// Middleware refuses requests over the limits with aya's JSON error and bounds the rest.
func (l *Limits) Middleware() policy.Middleware {
	return func(next httpx.Handler) httpx.Handler {
		return httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
			l.serve(w, r, next)
		})
	}
}

func (l *Limits) serve(w httpx.ResponseWriter, r *httpx.Request, next httpx.Handler) {
	if status, msg := l.Check(r); status != 0 {
		proxy.WriteError(w, r, status, msg)
		return
	}
	if l.o.Timeout > 0 {
		orig := r.Context()
		ctx, cancel := context.WithTimeout(orig, l.o.Timeout)
		r.SetContext(ctx)
		defer func() {
			cancel()
			r.SetContext(orig)
		}()
	}
	if l.o.MaxBody > 0 && r.ContentLength < 0 {
		b := l.bodies.Get().(*countingBody)
		orig := r.Body
		*b = countingBody{r: orig, left: l.o.MaxBody}
		r.Body = b
		next.ServeHTTPX(w, r)
		r.Body = orig
		*b = countingBody{}
		l.bodies.Put(b)
		return
	}
	next.ServeHTTPX(w, r)
}

// countingBody fails a streamed body once it grows past the limit. It reads one byte beyond
// the limit to tell a body of exactly the limit (fine) from a longer one.
type countingBody struct {
	r    io.Reader
	left int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		var one [1]byte
		if n, _ := b.r.Read(one[:]); n > 0 {
			return 0, proxy.ErrBodyTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	return n, err
}
