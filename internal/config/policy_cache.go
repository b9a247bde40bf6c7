package config

import (
	"fmt"
	"strings"
)

// CachePolicy caches a route's responses in the shared cache store (internal/policy/cache).
type CachePolicy struct {
	// TTL is how long a response stays fresh when it states no lifetime of its own
	// (Cache-Control max-age/s-maxage or Expires); 0 stores only responses that state one.
	TTL Duration `yaml:"ttl" default:"60s"`
	// Methods are the cacheable methods: GET and HEAD (the default is both).
	Methods []string `yaml:"methods"`
	Key     CacheKey `yaml:"key"`
	// Vary keeps one variant per combination of the request headers a response's Vary
	// names; false refuses to store responses that vary.
	Vary         bool `yaml:"vary" default:"true"`
	MaxEntrySize Size `yaml:"max_entry_size" default:"1MB"`
	// StaleWhileRevalidate and StaleIfError apply when the response names no window itself.
	StaleWhileRevalidate Duration `yaml:"stale_while_revalidate"`
	StaleIfError         Duration `yaml:"stale_if_error"`
	// TagsHeader is the response header whose space-separated values tag the entry for
	// purges; "" turns tags off.
	TagsHeader string `yaml:"tags_header" default:"Surrogate-Key"`
	// AllowSetCookie stores responses that set cookies (every client then gets the cookie).
	AllowSetCookie bool `yaml:"allow_set_cookie"`
}

// CacheKey says what of a request, beyond method, host and path, picks its cache entry.
type CacheKey struct {
	Headers []string   `yaml:"headers"`
	Query   CacheQuery `yaml:"query"`
	Cookies []string   `yaml:"cookies"`
	// Consumer adds the authenticated consumer's name (run auth before the cache).
	Consumer bool `yaml:"consumer"`
}

// CacheQuery is `query: true` (the whole query string, the default), `query: false` (none)
// or a list of parameter names (only those, in that order).
type CacheQuery []string

func (CacheQuery) oneIsList() {}

// All reports whether the whole query string is part of the key.
func (q CacheQuery) All() bool { return len(q) == 0 || len(q) == 1 && q[0] == "true" }

// None reports whether the query string is left out of the key.
func (q CacheQuery) None() bool { return len(q) == 1 && q[0] == "false" }

// CacheStore sizes the response cache every cache policy shares.
type CacheStore struct {
	Line int `yaml:"-"`

	MaxSize Size `yaml:"max_size" default:"256MB"`
}

// DefaultCacheSize is the shared store's size when the config has no cache: block.
const DefaultCacheSize = 256 << 20

// CacheSize is the shared store's size in bytes.
func (c *Config) CacheSize() int64 {
	if c.Cache == nil {
		return DefaultCacheSize
	}
	return int64(c.Cache.MaxSize)
}

func (v *validator) cachePolicy(cfg *Config, p *CachePolicy, path, ctx string, line int) {
	for i, m := range p.Methods {
		if m != "GET" && m != "HEAD" {
			v.errAt(fmt.Sprintf("%s.methods[%d]", path, i), line, "%s: method %q cannot be cached: list GET and/or HEAD (other methods pass through and invalidate what they change)", ctx, m)
		}
	}
	if p.Methods != nil && len(p.Methods) == 0 {
		v.errAt(path+".methods", line, "%s: methods is empty: leave it out for [GET, HEAD]", ctx)
	}
	for i, h := range p.Key.Headers {
		if !isToken(h) {
			v.errAt(fmt.Sprintf("%s.key.headers[%d]", path, i), line, "%s key: headers: %q is not a valid header name", ctx, h)
		}
	}
	for i, c := range p.Key.Cookies {
		if !isToken(c) {
			v.errAt(fmt.Sprintf("%s.key.cookies[%d]", path, i), line, "%s key: cookies: %q is not a valid cookie name", ctx, c)
		}
	}
	if q := p.Key.Query; !q.All() && !q.None() {
		for i, name := range q {
			if name == "" || name == "true" || name == "false" || strings.ContainsAny(name, "&= ") {
				v.errAt(fmt.Sprintf("%s.key.query[%d]", path, i), line, "%s key: query: %q is not a parameter name: write true (the whole query), false (none) or a list of names like [id, page]", ctx, name)
			}
		}
	}
	if p.MaxEntrySize <= 0 {
		v.errAt(path+".max_entry_size", line, "%s: max_entry_size must be above 0, like 1MB", ctx)
	} else if size := cfg.CacheSize(); int64(p.MaxEntrySize) > size {
		v.errAt(path+".max_entry_size", line, "%s: max_entry_size %v is larger than the whole cache (%v): raise cache.max_size at the top level or lower max_entry_size", ctx, p.MaxEntrySize, Size(size))
	}
	if p.TagsHeader != "" && !isToken(p.TagsHeader) {
		v.errAt(path+".tags_header", line, "%s: tags_header %q is not a valid header name", ctx, p.TagsHeader)
	}
}

// cacheStore validates the top-level cache: block.
func (v *validator) cacheStore(cfg *Config) {
	if cfg.Cache == nil {
		return
	}
	if cfg.Cache.MaxSize < 64<<10 {
		v.errAt("cache.max_size", cfg.Cache.Line, "cache: max_size %v is too small to hold responses: write at least 64KB, like 256MB", cfg.Cache.MaxSize)
	}
}
