package compress

import (
	"fmt"
	"strings"

	"aya/internal/httpx"
)

// DefaultTypes returns the media types compressed when a route names none: text, and the
// structured text formats that usually travel as application/*, image/* or font/*.
func DefaultTypes() []string {
	return []string{
		"text/*",
		"application/json",
		"application/*+json",
		"application/javascript",
		"application/xml",
		"application/*+xml",
		"application/x-ndjson",
		"application/wasm",
		"image/svg+xml",
		"font/ttf",
		"font/otf",
	}
}

// typeSet matches a response's Content-Type against the configured media types. Patterns
// are "type/subtype", "type/*" or "type/*+suffix" (application/*+json: application/ld+json,
// application/problem+json, ...).
type typeSet struct {
	exact    []string // "application/json"
	prefixes []string // "text/" from "text/*"
	suffixes []struct{ prefix, suffix string }
}

func newTypeSet(patterns []string) (typeSet, error) {
	var s typeSet
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		slash := strings.IndexByte(p, '/')
		if slash <= 0 || slash == len(p)-1 || strings.ContainsAny(p, " ;,") {
			return typeSet{}, fmt.Errorf("content type %q: write a media type like text/*, application/json or application/*+json", p)
		}
		major, minor := p[:slash+1], p[slash+1:]
		switch {
		case minor == "*":
			s.prefixes = append(s.prefixes, major)
		case strings.HasPrefix(minor, "*+") && len(minor) > 2:
			s.suffixes = append(s.suffixes, struct{ prefix, suffix string }{major, minor[1:]})
		case strings.Contains(minor, "*") || strings.Contains(major, "*"):
			return typeSet{}, fmt.Errorf("content type %q: a wildcard may only be the whole subtype (text/*) or its name before a suffix (application/*+json)", p)
		default:
			s.exact = append(s.exact, p)
		}
	}
	return s, nil
}

// match reports whether the Content-Type value ct (parameters allowed) is in the set. Server-
// sent events never are: compressing them would hold events back in the encoder.
func (s *typeSet) match(ct string) bool {
	mt := ct
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = mt[:i]
	}
	mt = trim(mt)
	if mt == "" || httpx.EqualFold(mt, "text/event-stream") {
		return false
	}
	for _, e := range s.exact {
		if httpx.EqualFold(mt, e) {
			return true
		}
	}
	for _, p := range s.prefixes {
		if len(mt) > len(p) && httpx.EqualFold(mt[:len(p)], p) {
			return true
		}
	}
	for _, x := range s.suffixes {
		if len(mt) > len(x.prefix)+len(x.suffix) && httpx.EqualFold(mt[:len(x.prefix)], x.prefix) &&
			httpx.EqualFold(mt[len(mt)-len(x.suffix):], x.suffix) {
			return true
		}
	}
	return false
}

// hasToken reports whether a comma-separated header (Vary, Cache-Control) lists token,
// across every field named name.
func hasToken(h httpx.Header, name, token string) bool {
	for i := range h {
		if !httpx.EqualFold(h[i].Name, name) {
			continue
		}
		v := h[i].Value
		for v != "" {
			j := 0
			for j < len(v) && v[j] != ',' {
				j++
			}
			t := trim(v[:j])
			if k := strings.IndexByte(t, '='); k >= 0 {
				t = trim(t[:k]) // Cache-Control directives may carry arguments
			}
			if httpx.EqualFold(t, token) {
				return true
			}
			v = v[min(j+1, len(v)):]
		}
	}
	return false
}
