// Package rewrite changes a request's path before it goes upstream: a prefix replaced by
// another (whole segments only), or a regex whose captures fill a new path. The query is kept.
//
// It knows nothing of config or upstreams; the gateway builds Options from the config.
package rewrite

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unsafe"

	"aya/internal/httpx"
	"aya/internal/policy"
)

// Options is one rewrite: Prefix, or Regex with To.
type Options struct {
	// Prefix replaces From with To: "/old" → "/new" turns "/old/x" into "/new/x" and "/old"
	// into "/new", and leaves "/older" alone.
	Prefix *Prefix
	// Regex, when it matches, has its match replaced by To, where $1 and ${name} stand for
	// captures. A To with "?" also adds query parameters before the request's own.
	Regex *regexp.Regexp
	To    string
}

// Prefix is a prefix rewrite.
type Prefix struct{ From, To string }

// New returns the rewrite middleware.
func New(o Options) (policy.Middleware, error) {
	switch {
	case o.Prefix != nil && o.Regex != nil:
		return nil, fmt.Errorf("rewrite: both prefix and regex set: keep one")
	case o.Prefix != nil:
		p := *o.Prefix
		if !strings.HasPrefix(p.From, "/") || !strings.HasPrefix(p.To, "/") {
			return nil, fmt.Errorf("rewrite: prefix from %q and to %q must start with /", p.From, p.To)
		}
		p.From = strings.TrimSuffix(p.From, "/")
		return func(next httpx.Handler) httpx.Handler { return &prefix{p: p, next: next} }, nil
	case o.Regex != nil:
		return func(next httpx.Handler) httpx.Handler { return &regex{re: o.Regex, to: o.To, next: next} }, nil
	}
	return nil, fmt.Errorf("rewrite: set a prefix or a regex")
}

// buffers hold rewritten paths for the length of one request, so a rewrite allocates nothing.
var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// serve runs next with r.Path (and maybe r.Query) from buf, then puts the client's values back:
// the buffer goes back to the pool, and the access log written after the handler reports the
// path the client asked for.
func serve(next httpx.Handler, w httpx.ResponseWriter, r *httpx.Request, bp *[]byte, path, query string) {
	origPath, origQuery := r.Path, r.Query
	r.Path, r.Query = path, query
	next.ServeHTTPX(w, r)
	r.Path, r.Query = origPath, origQuery
	*bp = (*bp)[:0]
	buffers.Put(bp)
}

type prefix struct {
	p    Prefix
	next httpx.Handler
}

// rest returns what follows p.From in path when it is a whole-segment prefix.
func (h *prefix) rest(path string) (string, bool) {
	if h.p.From == "" { // from "/": every path
		return path, true
	}
	if !strings.HasPrefix(path, h.p.From) {
		return "", false
	}
	rest := path[len(h.p.From):]
	if rest != "" && rest[0] != '/' {
		return "", false
	}
	return rest, true
}

func (h *prefix) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	rest, ok := h.rest(r.Path)
	if !ok {
		h.next.ServeHTTPX(w, r)
		return
	}
	bp := buffers.Get().(*[]byte)
	b := Join((*bp)[:0], h.p.To, rest)
	*bp = b
	serve(h.next, w, r, bp, unsafe.String(unsafe.SliceData(b), len(b)), r.Query)
}

// Join appends to followed by rest (which is "" or starts with "/") without doubling or
// dropping the slash between them.
func Join(dst []byte, to, rest string) []byte {
	switch {
	case rest == "":
		return append(dst, to...)
	case strings.HasSuffix(to, "/"):
		dst = append(dst, to...)
		return append(dst, rest[1:]...)
	}
	dst = append(dst, to...)
	return append(dst, rest...)
}

type regex struct {
	re   *regexp.Regexp
	to   string
	next httpx.Handler
}

func (h *regex) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	m := h.re.FindStringSubmatchIndex(r.Path)
	if m == nil {
		h.next.ServeHTTPX(w, r)
		return
	}
	bp := buffers.Get().(*[]byte)
	b := append((*bp)[:0], r.Path[:m[0]]...)
	b = h.re.ExpandString(b, h.to, r.Path, m)
	b = append(b, r.Path[m[1]:]...)
	if len(b) == 0 || b[0] != '/' {
		b = append([]byte{'/'}, b...) // rare (to starts with a capture): b aliases the buffer
	}
	*bp = b
	s := unsafe.String(unsafe.SliceData(b), len(b))
	path, query := s, r.Query
	if i := strings.IndexByte(s, '?'); i >= 0 {
		path, query = s[:i], s[i+1:]
		if r.Query != "" {
			b = append(append(b, '&'), r.Query...)
			*bp = b
			// b may have moved: take both strings from the final array.
			s = unsafe.String(unsafe.SliceData(b), len(b))
			path, query = s[:i], s[i+1:]
		}
	}
	serve(h.next, w, r, bp, path, query)
}
