package cache

import (
	"context"
	"strings"

	"aya/internal/httpx"
	"aya/internal/policy"
)

// refreshLater revalidates e in the background (stale-while-revalidate), once per key at a
// time: the request is copied, since r dies when its handler returns.
func (h *handler) refreshLater(key []byte, e *entry, r *httpx.Request, method string) {
	c := h.c
	k := string(key)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	f, leader := c.flights.join(k)
	if !leader {
		c.mu.Unlock()
		return // a refresh or a miss for this key is already on its way
	}
	c.wg.Add(1)
	c.mu.Unlock()
	br := cloneRequest(r, method)
	st := policy.From(r)
	bst := &policy.State{Route: strings.Clone(st.Route), Consumer: st.Consumer, Credential: strings.Clone(st.Credential),
		Claims: cloneFields(st.Claims)}
	go func() {
		defer c.wg.Done()
		defer c.flights.leave(k, f)
		ctx, cancel := context.WithTimeout(c.ctx, c.o.RefreshTimeout)
		defer cancel()
		br.SetContext(policy.WithState(ctx, bst))
		var dw discard
		h.forward(&dw, br, k, e, conditionals{})
		if dw.status >= 500 || dw.status == 0 {
			c.o.Log.Warn("cache: background revalidation failed; the stale response stays until its windows end",
				"route", c.o.Route, "path", br.Path, "status", dw.status)
		}
	}()
}

// cloneRequest copies what the rest of the chain reads from a bodiless request.
func cloneRequest(r *httpx.Request, method string) *httpx.Request {
	out := &httpx.Request{
		Method:     method,
		Target:     strings.Clone(r.Target),
		Path:       strings.Clone(r.Path),
		Query:      strings.Clone(r.Query),
		Host:       strings.Clone(r.Host),
		Proto:      r.Proto,
		ProtoMajor: r.ProtoMajor,
		ProtoMinor: r.ProtoMinor,
		Header:     cloneFields(r.Header),
		Body:       httpx.NoBody,
		RemoteAddr: r.RemoteAddr,
		ClientIP:   r.ClientIP,
		LocalAddr:  r.LocalAddr,
		Listener:   strings.Clone(r.Listener),
		TLS:        r.TLS,
		ID:         strings.Clone(r.ID),
	}
	out.Proto = strings.Clone(r.Proto)
	if len(r.Params) > 0 {
		out.Params = make([]httpx.Param, len(r.Params))
		for i, p := range r.Params {
			out.Params[i] = httpx.Param{Name: strings.Clone(p.Name), Value: strings.Clone(p.Value)}
		}
	}
	return out
}

// discard is the response writer of a background revalidation: nobody reads the answer, the
// capture around it stores it.
type discard struct {
	header httpx.Header
	status int
}

func (d *discard) Header() *httpx.Header { return &d.header }

func (d *discard) WriteHeader(status int) {
	if d.status == 0 {
		d.status = status
	}
}

func (d *discard) Write(p []byte) (int, error) {
	d.WriteHeader(200)
	return len(p), nil
}

func (d *discard) Flush() error { return nil }

// invalidateAfterUnsafe drops the stored GET and HEAD answers for r's URL once an unsafe
// method (POST, PUT, PATCH, DELETE) succeeded on it (RFC 9111 §4.4).
func (c *Cache) invalidateAfterUnsafe(r *httpx.Request, status int) {
	if status < 200 || status >= 400 {
		return
	}
	for _, m := range [...]string{"GET", "HEAD"} {
		key, _, _ := c.appendKey(nil, r, m)
		c.store.invalidate(string(key))
	}
}

// unsafeMethod reports whether a successful m changes the resource (RFC 9110 §9.2.1).
// CONNECT opens a tunnel (and needs the writer's Hijack), so it does not count.
func unsafeMethod(m string) bool {
	switch m {
	case "GET", "HEAD", "OPTIONS", "TRACE", "CONNECT":
		return false
	}
	return true
}

// statusWriter notes the status of an answer the cache only watches.
type statusWriter struct {
	httpx.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(status int) {
	if s.status == 0 && status >= 200 {
		s.status = status
	}
	s.ResponseWriter.WriteHeader(status)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = 200
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusWriter) SetTrailer(h httpx.Header) {
	if tw, ok := s.ResponseWriter.(httpx.TrailerWriter); ok {
		tw.SetTrailer(h)
	}
}
