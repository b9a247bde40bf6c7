// Package cors is the cors policy: it answers CORS preflight requests itself and adds the
// Access-Control-* headers to the responses of allowed origins.
//
// It must not know about config, routes or upstreams; it does not authenticate (a preflight
// carries no credentials, so it belongs before any auth policy).
package cors

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"aya/internal/httpx"
	"aya/internal/policy"
)

// Options configure a cors policy.
type Options struct {
	// AllowOrigins: exact origins ("https://app.example.com"), subdomain wildcards
	// ("*.example.com", "https://*.example.com"), "null", or "*" for any origin.
	AllowOrigins []string
	// AllowMethods answer preflights; empty: DefaultMethods.
	AllowMethods []string
	// AllowHeaders answer preflights; empty or "*": the headers the preflight asks for.
	AllowHeaders []string
	// ExposeHeaders are the response headers scripts may read beyond the safelisted ones.
	ExposeHeaders []string
	// AllowCredentials lets cookies and Authorization through. The origin is then always
	// named, never "*" (browsers refuse credentials with a literal "*").
	AllowCredentials bool
	// MaxAge is how long a browser may cache a preflight answer; 0: the header is not sent.
	MaxAge time.Duration
}

// DefaultMethods returns the methods allowed when Options.AllowMethods is empty.
func DefaultMethods() []string { return []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} }

// CORS is a built cors policy.
type CORS struct {
	any         bool // "*" is listed
	patterns    []originPattern
	credentials bool
	methods     string // Access-Control-Allow-Methods
	headers     string // Access-Control-Allow-Headers; "": reflect the request's
	expose      string
	maxAge      string
	writers     sync.Pool
}

// New builds a cors policy.
func New(o Options) (*CORS, error) {
	if len(o.AllowOrigins) == 0 {
		return nil, errors.New("allow_origins is empty: list origins like https://app.example.com, *.example.com, or * for any")
	}
	c := &CORS{credentials: o.AllowCredentials}
	for _, s := range o.AllowOrigins {
		if strings.TrimSpace(s) == "*" {
			c.any = true
			continue
		}
		p, err := parsePattern(s)
		if err != nil {
			return nil, err
		}
		c.patterns = append(c.patterns, p)
	}
	methods := o.AllowMethods
	if len(methods) == 0 {
		methods = DefaultMethods()
	}
	for _, m := range methods {
		if !isToken(m) {
			return nil, fmt.Errorf("method %q is not a valid HTTP method name", m)
		}
	}
	c.methods = strings.Join(methods, ", ")
	for _, h := range o.AllowHeaders {
		if !isToken(h) {
			return nil, fmt.Errorf("allow_headers: %q is not a valid header name", h)
		}
	}
	if !slices.Contains(o.AllowHeaders, "*") {
		c.headers = strings.Join(o.AllowHeaders, ", ")
	}
	for _, h := range o.ExposeHeaders {
		if !isToken(h) && h != "*" {
			return nil, fmt.Errorf("expose_headers: %q is not a valid header name", h)
		}
	}
	c.expose = strings.Join(o.ExposeHeaders, ", ")
	if o.MaxAge < 0 {
		return nil, errors.New("max_age must not be negative")
	}
	if o.MaxAge > 0 {
		c.maxAge = strconv.FormatInt(int64((o.MaxAge+time.Second-1)/time.Second), 10)
	}
	c.writers.New = func() any { return &writer{c: c} }
	return c, nil
}

// AllowOrigin returns the Access-Control-Allow-Origin value for a request from origin, or
// false when the origin is not allowed. The value is "*" only for an any-origin policy without
// credentials; otherwise it is origin itself.
func (c *CORS) AllowOrigin(origin string) (string, bool) {
	for i := range c.patterns {
		if c.patterns[i].match(origin) {
			return origin, true
		}
	}
	if !c.any {
		return "", false
	}
	if !c.credentials {
		return "*", true
	}
	// Reflecting "null" with credentials would trust sandboxed frames and file: pages.
	if origin == "null" {
		return "", false
	}
	return origin, true
}

// Middleware answers preflights and decorates the other responses.
func (c *CORS) Middleware() policy.Middleware {
	return func(next httpx.Handler) httpx.Handler {
		return httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
			c.serve(w, r, next)
		})
	}
}

func (c *CORS) serve(w httpx.ResponseWriter, r *httpx.Request, next httpx.Handler) {
	origin, hasOrigin := r.Header.Lookup("Origin")
	if hasOrigin && r.Method == "OPTIONS" && r.Header.Has("Access-Control-Request-Method") {
		c.preflight(w, r, origin)
		return
	}
	// An upgrade must keep the engine's writer (to hijack it); browsers do not apply CORS to
	// WebSocket anyway.
	if r.Header.Has("Upgrade") {
		next.ServeHTTPX(w, r)
		return
	}
	cw := c.writers.Get().(*writer)
	cw.w = w
	if hasOrigin {
		cw.allow, _ = c.AllowOrigin(origin)
	}
	next.ServeHTTPX(cw, r)
	*cw = writer{c: c}
	c.writers.Put(cw)
}

// preflight answers 204 without going upstream. A refused origin gets no Access-Control-*
// headers, which the browser reports as a CORS failure.
func (c *CORS) preflight(w httpx.ResponseWriter, r *httpx.Request, origin string) {
	h := w.Header()
	h.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	if allow, ok := c.AllowOrigin(origin); ok {
		h.Set("Access-Control-Allow-Origin", allow)
		if c.credentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
		h.Set("Access-Control-Allow-Methods", c.methods)
		if c.headers != "" {
			h.Set("Access-Control-Allow-Headers", c.headers)
		} else if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		}
		if c.maxAge != "" {
			h.Set("Access-Control-Max-Age", c.maxAge)
		}
	}
	w.WriteHeader(204)
}

// writer adds the CORS headers as the response head goes out, over whatever the handler (or
// the upstream) set: aya's answer is the one that counts.
type writer struct {
	c     *CORS
	w     httpx.ResponseWriter
	allow string // Access-Control-Allow-Origin; "": the origin is absent or refused
	done  bool
}

func (cw *writer) Header() *httpx.Header { return cw.w.Header() }

func (cw *writer) WriteHeader(status int) {
	if !cw.done && status >= 200 {
		cw.done = true
		cw.decorate(cw.w.Header())
	}
	cw.w.WriteHeader(status)
}

func (cw *writer) Write(p []byte) (int, error) {
	if !cw.done {
		cw.WriteHeader(200)
	}
	return cw.w.Write(p)
}

func (cw *writer) Flush() error {
	if !cw.done {
		cw.WriteHeader(200)
	}
	return cw.w.Flush()
}

// SetTrailer passes trailers on (gRPC-Web needs them).
func (cw *writer) SetTrailer(h httpx.Header) {
	if tw, ok := cw.w.(httpx.TrailerWriter); ok {
		tw.SetTrailer(h)
	}
}

func (cw *writer) decorate(h *httpx.Header) {
	// The answer depends on Origin (present, allowed, which one), so caches must key on it.
	if !hasVaryOrigin(*h) {
		h.Add("Vary", "Origin")
	}
	if cw.allow == "" {
		h.Del("Access-Control-Allow-Origin")
		h.Del("Access-Control-Allow-Credentials")
		return
	}
	c := cw.c
	h.Set("Access-Control-Allow-Origin", cw.allow)
	if c.credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	} else {
		h.Del("Access-Control-Allow-Credentials")
	}
	if c.expose != "" {
		h.Set("Access-Control-Expose-Headers", c.expose)
	}
}

func hasVaryOrigin(h httpx.Header) bool {
	for i := range h {
		if !httpx.EqualFold(h[i].Name, "Vary") {
			continue
		}
		for v := h[i].Value; v != ""; {
			j := strings.IndexByte(v, ',')
			if j < 0 {
				j = len(v)
			}
			t := strings.TrimSpace(v[:j])
			if t == "*" || httpx.EqualFold(t, "Origin") {
				return true
			}
			v = v[min(j+1, len(v)):]
		}
	}
	return false
}

// isToken reports whether s is an RFC 9110 token (a method or a header name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

var _ httpx.TrailerWriter = (*writer)(nil)
