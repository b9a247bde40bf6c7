package transform

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"aya/internal/httpx"
	"aya/internal/policy"
)

// Template is a value with ${...} variables, compiled once when the config is built so that a
// request only looks values up and copies bytes. A template without variables is a constant:
// String returns it without allocating.
type Template struct {
	src   string
	parts []part // nil for a constant
}

type part struct {
	lit  string  // a literal run (kind == literal)
	kind varKind // what to look up
	name string  // the NAME of claim.NAME, header.NAME, query.NAME, param.NAME
}

type varKind uint8

const (
	literal varKind = iota
	clientIP
	consumer
	route
	requestID
	method
	host
	scheme
	path
	rawQuery
	claim
	header
	queryParam
	param
)

var simpleVars = map[string]varKind{
	"client_ip": clientIP, "consumer": consumer, "route": route, "request_id": requestID,
	"method": method, "host": host, "scheme": scheme, "path": path, "query": rawQuery,
}

var namedVars = []struct {
	prefix string
	kind   varKind
}{{"claim.", claim}, {"header.", header}, {"query.", queryParam}, {"param.", param}}

// Escape says how a variable's value is written into the result. Literal text is always
// written as configured.
type Escape uint8

const (
	// Text drops control characters (CR, LF, NUL, ...), so a value cannot split a header or
	// a Location.
	Text Escape = iota
	// Query percent-encodes values for a query parameter value.
	Query
	// Path percent-encodes values for one path segment; path, query and param values, which
	// are already in wire form, keep their escapes but cannot add segments ("/", "..").
	Path
)

// Compile parses s. Variables: client_ip, consumer, route, request_id, method, host, scheme,
// path, query (the raw query), claim.NAME, header.NAME, query.NAME, param.NAME.
func Compile(s string) (*Template, error) {
	t := &Template{src: s}
	rest := s
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			break
		}
		end := strings.IndexByte(rest[i:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unclosed ${ in %q", s)
		}
		if i > 0 {
			t.parts = append(t.parts, part{lit: rest[:i]})
		}
		p, err := parseVar(rest[i+2 : i+end])
		if err != nil {
			return nil, err
		}
		t.parts = append(t.parts, p)
		rest = rest[i+end+1:]
	}
	if t.parts != nil && rest != "" {
		t.parts = append(t.parts, part{lit: rest})
	}
	return t, nil
}

// MustCompile is Compile for values already validated (config) and for tests.
func MustCompile(s string) *Template {
	t, err := Compile(s)
	if err != nil {
		panic(err)
	}
	return t
}

func parseVar(name string) (part, error) {
	if k, ok := simpleVars[name]; ok {
		return part{kind: k}, nil
	}
	for _, nv := range namedVars {
		if n, ok := strings.CutPrefix(name, nv.prefix); ok && n != "" {
			return part{kind: nv.kind, name: n}, nil
		}
	}
	return part{}, fmt.Errorf("unknown variable ${%s}", name)
}

// Constant returns the template's value when it has no variables.
func (t *Template) Constant() (string, bool) { return t.src, t.parts == nil }

// String returns the template's value for r.
func (t *Template) String(r *httpx.Request, esc Escape) string {
	if t.parts == nil {
		return t.src
	}
	return string(t.Append(make([]byte, 0, len(t.src)+32), r, esc))
}

// Append appends the template's value for r to dst.
func (t *Template) Append(dst []byte, r *httpx.Request, esc Escape) []byte {
	if t.parts == nil {
		return append(dst, t.src...)
	}
	for i := range t.parts {
		p := &t.parts[i]
		switch p.kind {
		case literal:
			dst = append(dst, p.lit...)
		case clientIP:
			if r.ClientIP.IsValid() {
				dst = r.ClientIP.Unmap().AppendTo(dst)
			}
		default:
			v, raw := lookup(p, r)
			dst = appendEscaped(dst, v, esc, raw)
		}
	}
	return dst
}

// lookup returns a variable's value and whether it is in wire form already (percent-encoded).
func lookup(p *part, r *httpx.Request) (string, bool) {
	switch p.kind {
	case consumer:
		if c := policy.From(r).Consumer; c != nil {
			return c.Name, false
		}
		return "", false
	case route:
		return policy.From(r).Route, false
	case requestID:
		return r.ID, false
	case method:
		return r.Method, false
	case host:
		return r.Host, false
	case scheme:
		return r.Scheme(), false
	case path:
		return r.Path, true
	case rawQuery:
		return r.Query, true
	case claim:
		return policy.From(r).Claim(p.name), false
	case header:
		return r.Header.Get(p.name), false
	case queryParam:
		return r.QueryValue(p.name), true
	case param:
		return r.Param(p.name), true
	}
	return "", false
}

const hexDigits = "0123456789ABCDEF"

func appendEscaped(dst []byte, v string, esc Escape, raw bool) []byte {
	switch esc {
	case Query:
		for i := 0; i < len(v); i++ {
			c := v[i]
			if raw && c != '&' && c != '#' && c > ' ' && c < 0x7f || unreserved(c) {
				dst = append(dst, c)
			} else {
				dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
			}
		}
		return dst
	case Path:
		if v == "." || v == ".." {
			for range len(v) {
				dst = append(dst, "%2E"...)
			}
			return dst
		}
		for i := 0; i < len(v); i++ {
			c := v[i]
			if raw && c != '/' && c != '?' && c != '#' && c > ' ' && c < 0x7f || unreserved(c) {
				dst = append(dst, c)
			} else {
				dst = append(dst, '%', hexDigits[c>>4], hexDigits[c&15])
			}
		}
		return dst
	}
	for i := 0; i < len(v); i++ {
		if c := v[i]; c >= ' ' && c != 0x7f || c == '\t' {
			dst = append(dst, c)
		}
	}
	return dst
}

func unreserved(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, so the result is
// always valid JSON.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < ' ':
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&15])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return append(dst, '"')
}

// withEscapedLiterals returns t with its literal text percent-encoded for esc too, for query
// values written as plain text in the config ("a b" → "a%20b").
func (t *Template) withEscapedLiterals(esc Escape) *Template {
	out := &Template{src: string(appendEscaped(nil, t.src, esc, false))}
	if t.parts == nil {
		return out
	}
	out.parts = make([]part, len(t.parts))
	for i, p := range t.parts {
		if p.kind == literal {
			p.lit = string(appendEscaped(nil, p.lit, esc, false))
		}
		out.parts[i] = p
	}
	return out
}
