package cache

import (
	"aya/internal/httpx"
	"aya/internal/policy"
)

// QueryMode says how much of the query string goes into the key.
type QueryMode int

const (
	// QueryAll keys on the raw query string as received.
	QueryAll QueryMode = iota
	// QueryNone ignores the query string.
	QueryNone
	// QueryList keys on the listed parameters only, in the listed order.
	QueryList
)

// appendKey appends the primary key of r for method: the route, the scheme, then the base
// ("GET host/path?query", what purges name), then the extra parts the options ask for. It
// returns where the base starts and ends. Nothing is allocated once buf has grown.
func (c *Cache) appendKey(buf []byte, r *httpx.Request, method string) (key []byte, baseStart, baseEnd int) {
	buf = append(buf, c.o.Route...)
	buf = append(buf, 0)
	buf = append(buf, r.Scheme()...)
	buf = append(buf, 0)
	baseStart = len(buf)
	buf = append(buf, method...)
	buf = append(buf, ' ')
	for i := 0; i < len(r.Host); i++ {
		b := r.Host[i]
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		buf = append(buf, b)
	}
	buf = append(buf, r.Path...)
	switch c.o.Query {
	case QueryAll:
		if r.Query != "" {
			buf = append(buf, '?')
			buf = append(buf, r.Query...)
		}
	case QueryList:
		sep := byte('?')
		for _, p := range c.o.QueryParams {
			if v, ok := httpx.QueryLookup(r.Query, p); ok {
				buf = append(buf, sep)
				buf = append(buf, p...)
				buf = append(buf, '=')
				buf = append(buf, v...)
				sep = '&'
			}
		}
	}
	baseEnd = len(buf)
	for _, h := range c.o.KeyHeaders {
		buf = append(buf, 0, 'h')
		buf = appendFieldValues(buf, r.Header, h)
	}
	for _, name := range c.o.KeyCookies {
		buf = append(buf, 0, 'c')
		buf = append(buf, r.Cookie(name)...)
	}
	if c.o.KeyConsumer {
		buf = append(buf, 0, 'u')
		if cons := policy.From(r).Consumer; cons != nil {
			buf = append(buf, cons.Name...)
		}
	}
	return buf, baseStart, baseEnd
}

// appendVary appends the variant part of a key: the values of the request headers the
// response varies by, in the marker's order.
func appendVary(buf []byte, h httpx.Header, names []string) []byte {
	buf = append(buf, 0, 'v')
	for _, n := range names {
		buf = append(buf, 0)
		buf = appendFieldValues(buf, h, n)
	}
	return buf
}

// appendFieldValues appends every value of the fields named name, comma-joined, as a
// recipient may combine them (RFC 9110 §5.3).
func appendFieldValues(buf []byte, h httpx.Header, name string) []byte {
	first := true
	for i := range h {
		if httpx.EqualFold(h[i].Name, name) {
			if !first {
				buf = append(buf, ',')
			}
			buf = append(buf, h[i].Value...)
			first = false
		}
	}
	return buf
}
