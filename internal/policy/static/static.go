// Package static answers every request with a fixed response (maintenance pages, health
// endpoints, stubs), built once so that answering allocates nothing.
//
// It knows nothing of config; the gateway builds Options from it.
package static

import (
	"fmt"
	"strconv"

	"aya/internal/httpx"
	"aya/internal/policy"
)

// Options is the fixed answer.
type Options struct {
	Status      int
	Body        string
	ContentType string
	// Headers are sent as given (sorted by the caller for a stable order).
	Headers []httpx.Field
}

// New returns the middleware; it never calls the next handler.
func New(o Options) (policy.Middleware, error) {
	if o.Status < 200 || o.Status > 599 {
		return nil, fmt.Errorf("static: status must be from 200 to 599, got %d", o.Status)
	}
	s := &static{o: o, body: []byte(o.Body), length: strconv.Itoa(len(o.Body))}
	if o.Status == 204 || o.Status == 304 {
		s.body, s.length = nil, ""
	}
	return func(httpx.Handler) httpx.Handler { return s }, nil
}

type static struct {
	o      Options
	body   []byte
	length string
}

func (s *static) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	h := w.Header()
	for _, f := range s.o.Headers {
		h.Set(f.Name, f.Value)
	}
	if s.o.ContentType != "" && s.length != "" {
		h.Set("Content-Type", s.o.ContentType)
	}
	if s.length != "" {
		h.Set("Content-Length", s.length)
	}
	if r.ID != "" {
		h.Set("X-Request-ID", r.ID)
	}
	w.WriteHeader(s.o.Status)
	if len(s.body) > 0 && r.Method != "HEAD" {
		w.Write(s.body)
	}
}
