// Package httpx holds aya's own HTTP request and response types, shared by every layer: the
// HTTP/1.1 engine fills them, the router matches on them, policies and balancers read them, and
// the proxy turns them into upstream requests.
//
// It imports nothing of aya, so that every other package may import it. It must not know about
// config, routes, upstreams or how bytes reach the wire.
//
// Lifetime rule: strings in a Request may point into the connection's read buffer (the HTTP/1.1
// engine parses without copying). They are valid only until the handler returns. Anything that
// keeps a value longer (a cache key, a log line written later, a goroutine) must copy it with
// strings.Clone.
package httpx

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/netip"
)

// Field is one header line. Name keeps the case it arrived with; lookups fold ASCII case.
type Field struct {
	Name  string
	Value string
}

// Header is an ordered list of fields. A slice (not a map) keeps parsing allocation-free and
// preserves order and duplicates exactly as received.
type Header []Field

// Get returns the value of the first field named name (case-insensitive), or "".
func (h Header) Get(name string) string {
	for i := range h {
		if EqualFold(h[i].Name, name) {
			return h[i].Value
		}
	}
	return ""
}

// Lookup is Get that also says whether the field exists.
func (h Header) Lookup(name string) (string, bool) {
	for i := range h {
		if EqualFold(h[i].Name, name) {
			return h[i].Value, true
		}
	}
	return "", false
}

// Has reports whether a field named name exists.
func (h Header) Has(name string) bool {
	_, ok := h.Lookup(name)
	return ok
}

// Count returns how many fields are named name.
func (h Header) Count(name string) int {
	n := 0
	for i := range h {
		if EqualFold(h[i].Name, name) {
			n++
		}
	}
	return n
}

// Add appends a field.
func (h *Header) Add(name, value string) {
	*h = append(*h, Field{Name: name, Value: value})
}

// Set replaces every field named name with one field, keeping the position of the first.
func (h *Header) Set(name, value string) {
	s := *h
	for i := range s {
		if EqualFold(s[i].Name, name) {
			s[i].Value = value
			s = append(s[:i+1], deleteFields(s[i+1:], name)...)
			*h = s
			return
		}
	}
	*h = append(s, Field{Name: name, Value: value})
}

// Del removes every field named name, in place.
func (h *Header) Del(name string) {
	*h = deleteFields(*h, name)
}

// Reset empties the header, keeping its capacity for reuse.
func (h *Header) Reset() {
	clear(*h)
	*h = (*h)[:0]
}

func deleteFields(s Header, name string) Header {
	j := 0
	for i := range s {
		if !EqualFold(s[i].Name, name) {
			s[j] = s[i]
			j++
		}
	}
	clear(s[j:])
	return s[:j]
}

// EqualFold reports whether a and b are equal under ASCII case folding. Header names are
// ASCII tokens, so this is all that is needed, and unlike strings.EqualFold it never looks at
// Unicode tables.
func EqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		ca, cb := a[i], b[i]
		if ca == cb {
			continue
		}
		if 'A' <= ca && ca <= 'Z' {
			ca += 'a' - 'A'
		}
		if 'A' <= cb && cb <= 'Z' {
			cb += 'a' - 'A'
		}
		if ca != cb {
			return false
		}
	}
	return true
}

// Param is one named path parameter captured by the router (e.g. {id} in /users/{id}).
type Param struct {
	Name  string
	Value string
}

// Request is one incoming HTTP request, whatever protocol carried it.
type Request struct {
	Method string
	// Target is the raw request-target as received (origin-form: path plus optional ?query).
	// The proxy sends Path and Query upstream, so a rewrite changes those, not Target.
	Target string
	Path   string // raw (still percent-encoded) path: starts with "/", or is "*" for OPTIONS *
	Query  string // raw query without the leading "?", "" when absent
	Host   string // from the Host header (h1) or :authority (h2), without changes
	// Proto is "HTTP/1.1", "HTTP/1.0", "HTTP/2.0" or "HTTP/3.0".
	Proto      string
	ProtoMajor int
	ProtoMinor int
	Header     Header
	// ContentLength is the body length, -1 when unknown (chunked, or h2 without a length),
	// 0 when there is no body.
	ContentLength int64
	// Body streams the request body (already de-chunked). Never nil: an empty reader when there
	// is no body.
	Body io.Reader
	// Trailer holds trailer fields once Body has returned io.EOF.
	Trailer Header

	RemoteAddr netip.AddrPort // the TCP peer
	// ClientIP is the address aya treats as the client: the peer, or the address a trusted
	// proxy reported in X-Forwarded-For/Forwarded. Set by the gateway before routing.
	ClientIP  netip.Addr
	LocalAddr netip.AddrPort // the listener address the request arrived on
	Listener  string         // name of the listener (config) the request arrived on
	TLS       *tls.ConnectionState

	// ID is the request id (set by the gateway before policies run).
	ID string
	// Params are the route's captured path parameters.
	Params []Param
	// Close is set when the connection must close after this request.
	Close bool
	// Local is the dispatching server's per-request state (the gateway's pooled request
	// memory), found here rather than in the context so that no context ever has pooled
	// memory as its parent: a context derived from the request may outlive the handler (a
	// timer, a library's background dial), while the pooled memory is reused at once. It is
	// valid only until the handler returns and is never copied into another request.
	Local any

	ctx context.Context
}

// Context returns the request's context; it is canceled when the client goes away or the
// server shuts down. Never nil.
func (r *Request) Context() context.Context {
	if r.ctx == nil {
		return context.Background()
	}
	return r.ctx
}

// SetContext sets the request's context.
func (r *Request) SetContext(ctx context.Context) { r.ctx = ctx }

// Param returns the value of the named path parameter, or "".
func (r *Request) Param(name string) string {
	for i := range r.Params {
		if r.Params[i].Name == name {
			return r.Params[i].Value
		}
	}
	return ""
}

// Scheme is "https" when the request came over TLS, else "http".
func (r *Request) Scheme() string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// QueryValue returns the first value of the query parameter key, undecoded, without
// allocating; "" when absent.
func (r *Request) QueryValue(key string) string {
	v, _ := QueryLookup(r.Query, key)
	return v
}

// QueryLookup finds key in a raw query string, compared as raw bytes.
func QueryLookup(query, key string) (string, bool) {
	for query != "" {
		var part string
		i := 0
		for i < len(query) && query[i] != '&' {
			i++
		}
		part, query = query[:i], query[min(i+1, len(query)):]
		k, v := part, ""
		for j := 0; j < len(part); j++ {
			if part[j] == '=' {
				k, v = part[:j], part[j+1:]
				break
			}
		}
		if k == key {
			return v, true
		}
	}
	return "", false
}

// Cookie returns the value of the first cookie named name from the Cookie headers, or "".
func (r *Request) Cookie(name string) string {
	for i := range r.Header {
		if !EqualFold(r.Header[i].Name, "Cookie") {
			continue
		}
		s := r.Header[i].Value
		for s != "" {
			var part string
			j := 0
			for j < len(s) && s[j] != ';' {
				j++
			}
			part, s = trimSpace(s[:j]), s[min(j+1, len(s)):]
			for k := 0; k < len(part); k++ {
				if part[k] == '=' {
					if part[:k] == name {
						return part[k+1:]
					}
					break
				}
			}
		}
	}
	return ""
}

func trimSpace(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// ResponseWriter is how a handler answers. Implementations stream: Write sends bytes towards
// the client without waiting for the whole body.
type ResponseWriter interface {
	// Header is the response header to send; changes after WriteHeader have no effect.
	Header() *Header
	// WriteHeader sends the status line and header. A second call is ignored.
	WriteHeader(status int)
	// Write sends body bytes, calling WriteHeader(200) first when needed.
	Write(p []byte) (int, error)
	// Flush pushes buffered bytes to the client now.
	Flush() error
}

// Hijacker is implemented by HTTP/1.1 response writers that can hand over the raw connection
// (WebSocket and other upgrades). buffered holds bytes already read from the client beyond the
// request head; the caller owns the connection afterwards.
type Hijacker interface {
	Hijack() (conn net.Conn, buffered []byte, err error)
}

// TrailerWriter is implemented by response writers that can send trailers after the body
// (HTTP/2 always; HTTP/1.1 when the response is chunked).
type TrailerWriter interface {
	// SetTrailer records trailers to send when the handler returns.
	SetTrailer(h Header)
}

// Handler serves one request. It must not keep r or w after it returns.
type Handler interface {
	ServeHTTPX(w ResponseWriter, r *Request)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(w ResponseWriter, r *Request)

// ServeHTTPX calls f(w, r).
func (f HandlerFunc) ServeHTTPX(w ResponseWriter, r *Request) { f(w, r) }

// Response is an upstream's answer as read by a client transport.
type Response struct {
	Status int
	Proto  string
	Header Header
	// ContentLength is -1 when unknown (chunked or read-to-close).
	ContentLength int64
	// Body streams the response body. Close it to release the upstream connection (back to the
	// pool if the body was fully read, otherwise closed).
	Body io.ReadCloser
	// Trailer holds trailer fields once Body has returned io.EOF.
	Trailer Header
}

// Reset clears the response for reuse, keeping header capacity.
func (r *Response) Reset() {
	h, t := r.Header, r.Trailer
	h.Reset()
	t.Reset()
	*r = Response{Header: h, Trailer: t}
}

// NoBody is an empty request body.
var NoBody io.Reader = noBody{}

type noBody struct{}

func (noBody) Read([]byte) (int, error) { return 0, io.EOF }
