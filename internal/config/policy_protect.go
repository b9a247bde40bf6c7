package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// CompressPolicy compresses responses by Accept-Encoding.
type CompressPolicy struct {
	// Algorithms are offered in this order of server preference (br, zstd, gzip); the
	// client's q-values decide first. Empty: [br, zstd, gzip].
	Algorithms []string `yaml:"algorithms"`
	// MinSize is the smallest body compressed; a body of unknown length is held back up to
	// this many bytes while aya decides.
	MinSize Size `yaml:"min_size" default:"1KB"`
	// Types are the media types compressed: type/subtype, type/* or type/*+suffix. Empty: text/*,
	// JSON, JavaScript, XML, SVG and friends (see docs/policies/protect.md).
	Types []string `yaml:"types"`
	// Level is fastest, default, better or best, mapped onto each algorithm's own scale.
	Level string `yaml:"level" default:"default"`
}

// CORSPolicy answers CORS preflights and decorates responses.
type CORSPolicy struct {
	// AllowOrigins: exact origins (https://app.example.com), subdomain wildcards
	// (*.example.com, https://*.example.com), "null", or "*" for any origin.
	AllowOrigins []string `yaml:"allow_origins"`
	// AllowMethods answer preflights. Empty: GET, HEAD, POST, PUT, PATCH, DELETE.
	AllowMethods []string `yaml:"allow_methods"`
	// AllowHeaders answer preflights. Empty or "*": whatever the preflight asks for.
	AllowHeaders  []string `yaml:"allow_headers"`
	ExposeHeaders []string `yaml:"expose_headers"`
	// AllowCredentials lets cookies and Authorization through; the origin is then named,
	// never "*".
	AllowCredentials bool `yaml:"allow_credentials"`
	// MaxAge is how long browsers may cache a preflight's answer; 0: not sent.
	MaxAge Duration `yaml:"max_age" default:"10m"`
}

// IPFilterPolicy admits or refuses clients by IP (the client IP after the listener's
// trusted_proxies). The most specific matching prefix decides, deny winning a tie; an address
// no prefix matches is refused when allow is set.
type IPFilterPolicy struct {
	Allow []netip.Prefix `yaml:"allow"`
	Deny  []netip.Prefix `yaml:"deny"`
}

// RequestLimitsPolicy bounds a route's request sizes and time. 0 turns a limit off (the
// listener's limits still apply).
type RequestLimitsPolicy struct {
	MaxBody        Size     `yaml:"max_body" default:"1MB"` // 413, counted for chunked bodies too
	MaxHeaderCount int      `yaml:"max_header_count"`       // 431
	MaxHeaderBytes Size     `yaml:"max_header_bytes"`       // 431
	MaxQueryLength Size     `yaml:"max_query_length"`       // 414
	Timeout        Duration `yaml:"timeout"`                // the rest of the chain; 504 from the proxy
}

var (
	compressAlgorithms = []string{"br", "zstd", "gzip"}
	compressLevels     = []string{"fastest", "default", "better", "best"}
)

// maxCompressMinSize matches compress.MaxMinSize: the held-back start of a body is pooled
// memory per in-flight response.
const maxCompressMinSize = 1 << 20

func (v *validator) compressPolicy(cfg *Config, p *CompressPolicy, path, ctx string, line int) {
	for i, a := range p.Algorithms {
		ap := fmt.Sprintf("%s.algorithms[%d]", path, i)
		switch {
		case !slices.Contains(compressAlgorithms, a):
			v.errAt(ap, line, "%s: unknown algorithm %q%s: use br, zstd or gzip", ctx, a, didYouMean(a, compressAlgorithms))
		case slices.Index(p.Algorithms, a) < i:
			v.errAt(ap, line, "%s: algorithm %q is listed twice", ctx, a)
		}
	}
	if p.MinSize > maxCompressMinSize {
		v.errAt(path+".min_size", line, "%s: min_size %v is above the 1MB aya holds back per response; responses that large are worth compressing anyway", ctx, p.MinSize)
	}
	for i, t := range p.Types {
		if err := mediaTypePattern(t); err != "" {
			v.errAt(fmt.Sprintf("%s.types[%d]", path, i), line, "%s: content type %q: %s", ctx, t, err)
		}
	}
	if !slices.Contains(compressLevels, p.Level) {
		v.errAt(path+".level", line, "%s: unknown level %q%s: use fastest, default, better or best", ctx, p.Level, didYouMean(p.Level, compressLevels))
	}
}

// mediaTypePattern checks a compress types entry, returning what is wrong or "".
func mediaTypePattern(t string) string {
	major, minor, ok := strings.Cut(strings.TrimSpace(t), "/")
	switch {
	case !ok || !isToken(major) || minor == "" || strings.ContainsAny(t, " ;,"):
		return "write a media type like text/*, application/json or application/*+json"
	case strings.Contains(major, "*"):
		return "the type before / cannot be a wildcard; list each type (text/*, application/json)"
	case minor == "*", strings.HasPrefix(minor, "*+") && len(minor) > 2 && !strings.Contains(minor[2:], "*"):
		return ""
	case strings.Contains(minor, "*"):
		return "a wildcard is the whole subtype (text/*) or the name before a suffix (application/*+json)"
	case !isToken(minor):
		return "write a media type like text/*, application/json or application/*+json"
	}
	return ""
}

func (v *validator) corsPolicy(cfg *Config, p *CORSPolicy, path, ctx string, line int) {
	if len(p.AllowOrigins) == 0 {
		v.errAt(path+".allow_origins", line, "%s: allow_origins is required: list the origins browsers may call from, like [https://app.example.com, \"*.example.com\"], or [\"*\"] for any", ctx)
	}
	for i, o := range p.AllowOrigins {
		op := fmt.Sprintf("%s.allow_origins[%d]", path, i)
		if o == "*" {
			if p.AllowCredentials {
				v.errAt(op, line, "%s: allow_origins \"*\" with allow_credentials: true would let every site send your users' cookies; list the origins that may (aya would reflect any origin otherwise)", ctx)
			}
			continue
		}
		if err := originPattern(o); err != "" {
			v.errAt(op, line, "%s: origin %q: %s", ctx, o, err)
		}
	}
	for i, m := range p.AllowMethods {
		if !isToken(m) {
			v.errAt(fmt.Sprintf("%s.allow_methods[%d]", path, i), line, "%s: %q is not an HTTP method: write names like GET, POST, DELETE", ctx, m)
		}
	}
	for _, list := range []struct {
		key   string
		names []string
	}{{"allow_headers", p.AllowHeaders}, {"expose_headers", p.ExposeHeaders}} {
		for i, h := range list.names {
			hp := fmt.Sprintf("%s.%s[%d]", path, list.key, i)
			switch {
			case !isToken(h):
				v.errAt(hp, line, "%s: %s: %q is not a header name", ctx, list.key, h)
			case h == "*" && list.key == "expose_headers" && p.AllowCredentials:
				v.errAt(hp, line, "%s: expose_headers \"*\" means a header literally named * when allow_credentials is on; list the headers scripts may read", ctx)
			}
		}
	}
}

// originPattern checks an allow_origins entry other than "*", returning what is wrong or "".
// It accepts what cors.New accepts.
func originPattern(o string) string {
	s := strings.ToLower(strings.TrimSpace(o))
	if s == "null" {
		return ""
	}
	scheme, rest, hasScheme := strings.Cut(s, "://")
	if !hasScheme {
		scheme, rest = "", s
	} else if scheme != "http" && scheme != "https" {
		return "the scheme must be http or https"
	}
	if rest == "" || strings.ContainsAny(rest, "/?# ") {
		return "write scheme://host[:port] with no path, like https://app.example.com, or *.example.com for its subdomains"
	}
	if strings.HasPrefix(rest, "*.") {
		host := rest
		if i := strings.LastIndexByte(host, ':'); i >= 0 {
			host = host[:i]
		}
		if len(host) < 3 || strings.Contains(rest[2:], "*") {
			return "a wildcard covers whole subdomains: write *.example.com"
		}
		return ""
	}
	if strings.Contains(rest, "*") {
		return "a wildcard covers whole subdomains: write *.example.com, or \"*\" alone for any origin"
	}
	if !hasScheme {
		return "write the scheme too, like https://" + rest
	}
	return ""
}

func (v *validator) ipFilterPolicy(cfg *Config, p *IPFilterPolicy, path, ctx string, line int) {
	if len(p.Allow) == 0 && len(p.Deny) == 0 && !v.bad[path+".allow"] && !v.bad[path+".deny"] {
		v.errAt(path, line, "%s: lists no addresses: write allow: [CIDR...] to admit only those, deny: [CIDR...] to refuse those, or both", ctx)
	}
}

func (v *validator) requestLimitsPolicy(cfg *Config, p *RequestLimitsPolicy, path, ctx string, line int) {
	if p.MaxHeaderCount < 0 {
		v.errAt(path+".max_header_count", line, "%s: max_header_count must not be negative (0 leaves it to the listener)", ctx)
	}
	for _, k := range []string{"max_body", "max_header_count", "max_header_bytes", "max_query_length", "timeout"} {
		if v.bad[path+"."+k] {
			return // a value that failed to decode reads as 0: reported already
		}
	}
	if p.MaxBody == 0 && p.MaxHeaderCount <= 0 && p.MaxHeaderBytes == 0 && p.MaxQueryLength == 0 && p.Timeout == 0 {
		v.errAt(path, line, "%s: every limit is 0 (off): set max_body, max_header_count, max_header_bytes, max_query_length or timeout, or remove the policy", ctx)
	}
}
