// Package compress is the compress policy: it encodes responses with brotli, zstd or gzip,
// whichever the client's Accept-Encoding weighs highest among those the route offers.
//
// It streams: the decision comes from the response head and at most min_size bytes, and
// every flush of the handler reaches the client. It leaves alone what must not or need not be
// compressed: bodies already encoded, server-sent events, partial content, HEAD, 204 and 304
// answers, Cache-Control: no-transform, and protocol upgrades.
//
// It must not know about config, routes or upstreams.
package compress

import (
	"fmt"
	"sync"

	"aya/internal/httpx"
	"aya/internal/policy"
)

// Options configure a compress policy. The zero value compresses with brotli, zstd and gzip
// (that preference) at the default level every response of a DefaultTypes type, whatever its
// size.
type Options struct {
	// Algorithms are the codings offered, in server preference: "br", "zstd", "gzip".
	// Empty: all three in that order.
	Algorithms []string
	// MinSize is the smallest body compressed, in bytes.
	MinSize int
	// Types are the media types compressed (see DefaultTypes for the forms). Empty:
	// DefaultTypes().
	Types []string
	// Level trades CPU for ratio (LevelDefault: brotli 4, zstd default, gzip 5).
	Level Level
}

// MaxMinSize bounds MinSize: the held-back start of a body lives in pooled memory.
const MaxMinSize = 1 << 20

// Compressor is a built compress policy.
type Compressor struct {
	offer   []coding
	minSize int
	types   typeSet
	pools   [numCodings]*encoderPool
	writers sync.Pool
}

// New builds a compress policy. It fails on an unknown algorithm or media type pattern.
func New(o Options) (*Compressor, error) {
	if o.MinSize < 0 || o.MinSize > MaxMinSize {
		return nil, fmt.Errorf("min_size %d is out of range: use 0 to %d bytes", o.MinSize, MaxMinSize)
	}
	if o.Level < LevelFastest || o.Level > LevelBest {
		return nil, fmt.Errorf("unknown level %d", o.Level)
	}
	algs := o.Algorithms
	if len(algs) == 0 {
		algs = []string{Brotli, Zstd, Gzip}
	}
	c := &Compressor{minSize: o.MinSize}
	for _, a := range algs {
		cd, ok := codingOf(a)
		if !ok {
			return nil, fmt.Errorf("unknown algorithm %q: use br, zstd or gzip", a)
		}
		if c.pools[cd] != nil {
			return nil, fmt.Errorf("algorithm %q is listed twice", a)
		}
		c.pools[cd] = newEncoderPool(cd, o.Level)
		c.offer = append(c.offer, cd)
	}
	types := o.Types
	if len(types) == 0 {
		types = DefaultTypes()
	}
	ts, err := newTypeSet(types)
	if err != nil {
		return nil, err
	}
	c.types = ts
	size := c.minSize
	c.writers.New = func() any { return &writer{c: c, buf: make([]byte, 0, size)} }
	return c, nil
}

// Middleware returns the policy as a route middleware.
func (c *Compressor) Middleware() policy.Middleware {
	return func(next httpx.Handler) httpx.Handler {
		return httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
			c.serve(w, r, next)
		})
	}
}

func (c *Compressor) serve(w httpx.ResponseWriter, r *httpx.Request, next httpx.Handler) {
	// An upgrade hands the connection over (the writer must stay a Hijacker); its bytes are
	// not an HTTP body anyway.
	if r.Method == "CONNECT" || r.Header.Has("Upgrade") {
		next.ServeHTTPX(w, r)
		return
	}
	cw := c.writers.Get().(*writer)
	cw.w = w
	cw.coding = none
	if r.Method != "HEAD" {
		cw.coding = negotiate(r.Header, c.offer)
	}
	next.ServeHTTPX(cw, r)
	cw.finish()
	*cw = writer{c: c, buf: cw.buf[:0]}
	c.writers.Put(cw)
}

// eligible reports whether a response with this head may be compressed at all, whatever the
// client accepts and however long the body is.
func (c *Compressor) eligible(h httpx.Header, status int) bool {
	switch status {
	case 204, 206, 304:
		return false
	}
	if ce, ok := h.Lookup("Content-Encoding"); ok && !httpx.EqualFold(trim(ce), "identity") {
		return false // never double-compress
	}
	if h.Has("Content-Range") || hasToken(h, "Cache-Control", "no-transform") {
		return false
	}
	return c.types.match(h.Get("Content-Type"))
}
