// Package redirect answers requests with a redirect: to a URL built from a template
// ("https://example.com${path}"), or an upgrade of plain-HTTP requests to https on the same
// host, path and query (requests that came over TLS go on down the chain).
//
// It knows nothing of config; the gateway builds Options from it.
package redirect

import (
	"fmt"
	"net"
	"strconv"
	"strings"

	"aya/internal/httpx"
	"aya/internal/policy"
	"aya/internal/policy/transform"
	"aya/internal/proxy"
)

// Options is one redirect: To, or HTTPS.
type Options struct {
	// To is the Location template; variables are filled from the request.
	To *transform.Template
	// HTTPS upgrades plain-HTTP requests to https://host[:Port]/path?query.
	HTTPS bool
	Port  int // 0: the default https port
	// Status is 301, 302, 303, 307 or 308.
	Status int
}

// New returns the redirect middleware.
func New(o Options) (policy.Middleware, error) {
	switch o.Status {
	case 301, 302, 303, 307, 308:
	default:
		return nil, fmt.Errorf("redirect: status %d is not a redirect: use 301, 302, 303, 307 or 308", o.Status)
	}
	if (o.To == nil) == !o.HTTPS {
		return nil, fmt.Errorf("redirect: set either to or https")
	}
	return func(next httpx.Handler) httpx.Handler { return &redirect{o: o, next: next} }, nil
}

type redirect struct {
	o    Options
	next httpx.Handler
}

func (h *redirect) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	var loc []byte
	if h.o.HTTPS {
		if r.TLS != nil {
			h.next.ServeHTTPX(w, r)
			return
		}
		if r.Host == "" {
			proxy.WriteError(w, r, 400, "cannot redirect to https: the request names no host (send a Host header)")
			return
		}
		loc = h.upgrade(r)
	} else {
		loc = h.o.To.Append(make([]byte, 0, 128), r, transform.Text)
	}
	answer(w, r, h.o.Status, safeLocation(loc))
}

// upgrade is the https URL of r: its host without the port (plus Port), its path and query.
func (h *redirect) upgrade(r *httpx.Request) []byte {
	host := r.Host
	if hp, _, err := net.SplitHostPort(host); err == nil {
		host = hp
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	b := make([]byte, 0, 16+len(host)+len(r.Path)+len(r.Query))
	b = append(b, "https://"...)
	b = append(b, host...)
	if h.o.Port != 0 && h.o.Port != 443 {
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(h.o.Port), 10)
	}
	b = append(b, r.Path...)
	if r.Query != "" {
		b = append(b, '?')
		b = append(b, r.Query...)
	}
	return b
}

// safeLocation keeps a Location that starts with a path from becoming protocol-relative
// ("//evil.example" or "/\evil.example", which browsers follow to another host): a template
// like "${path}" must not turn a request for "//evil.example" into an open redirect.
func safeLocation(loc []byte) string {
	if len(loc) >= 2 && loc[0] == '/' && (loc[1] == '/' || loc[1] == '\\') {
		i := 1
		for i < len(loc) && (loc[i] == '/' || loc[i] == '\\') {
			i++
		}
		loc = append([]byte{'/'}, loc[i:]...)
	}
	return string(loc)
}

func answer(w httpx.ResponseWriter, r *httpx.Request, status int, loc string) {
	h := w.Header()
	h.Set("Location", loc)
	h.Set("Content-Length", "0")
	if r.ID != "" {
		h.Set("X-Request-ID", r.ID)
	}
	w.WriteHeader(status)
}
