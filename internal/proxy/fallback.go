package proxy

import (
	"strconv"

	"aya/internal/httpx"
)

// Fallback is a route's graceful degradation when its upstream has no usable target: another
// handler (a proxy to another upstream), or a static answer.
type Fallback struct {
	Handler     httpx.Handler // when set, the request goes there
	Status      int
	Body        []byte
	ContentType string
	length      string
}

// NewStaticFallback returns a fallback that answers status with body.
func NewStaticFallback(status int, body, contentType string) *Fallback {
	return &Fallback{Status: status, Body: []byte(body), ContentType: contentType, length: strconv.Itoa(len(body))}
}

// fallback serves r from the route's fallback, if it has one, and reports whether it did.
// The request body must not have been read yet.
func (p *Proxy) fallback(w httpx.ResponseWriter, r *httpx.Request) bool {
	f := p.route.Fallback
	if f == nil {
		return false
	}
	p.log.Info("upstream has no usable target; serving the route's fallback", "upstream", p.route.Pool.Name, "request_id", r.ID)
	if f.Handler != nil {
		f.Handler.ServeHTTPX(w, r)
		return true
	}
	h := w.Header()
	h.Reset()
	h.Set("Content-Type", f.ContentType)
	h.Set("Content-Length", f.length)
	if r.ID != "" {
		h.Set("X-Request-ID", r.ID)
	}
	w.WriteHeader(f.Status)
	w.Write(f.Body)
	return true
}
