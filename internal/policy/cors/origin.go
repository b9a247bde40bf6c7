package cors

import (
	"fmt"
	"strings"

	"aya/internal/httpx"
)

// originPattern is one allow_origins entry other than "*": an exact origin, or a wildcard
// over the subdomains of a host ("*.example.com", "https://*.example.com:8443").
type originPattern struct {
	exact  string // lower case; "" for a wildcard
	scheme string // wildcard: "" means http or https
	suffix string // wildcard: ".example.com"
	port   string // wildcard: "" means the scheme's default (none written)
}

// parsePattern reads an allow_origins entry. Origins are scheme://host[:port] with nothing
// after: what browsers send in the Origin header.
func parsePattern(s string) (originPattern, error) {
	p := strings.ToLower(strings.TrimSpace(s))
	if p == "null" {
		return originPattern{exact: p}, nil
	}
	scheme, rest := "", p
	if i := strings.Index(p, "://"); i >= 0 {
		scheme, rest = p[:i], p[i+3:]
		if scheme != "http" && scheme != "https" {
			return originPattern{}, fmt.Errorf("origin %q: scheme must be http or https", s)
		}
	}
	if rest == "" || strings.ContainsAny(rest, "/?# ") {
		return originPattern{}, fmt.Errorf("origin %q: write scheme://host[:port] with no path, like https://app.example.com, or *.example.com for its subdomains", s)
	}
	if strings.HasPrefix(rest, "*.") {
		host, port := splitHostPort(rest)
		if len(host) < 3 || strings.Contains(host[2:], "*") || port == "*" {
			return originPattern{}, fmt.Errorf("origin %q: a wildcard covers whole subdomains: write *.example.com", s)
		}
		return originPattern{scheme: scheme, suffix: host[1:], port: port}, nil
	}
	if strings.Contains(rest, "*") {
		return originPattern{}, fmt.Errorf("origin %q: a wildcard covers whole subdomains: write *.example.com, or * alone for any origin", s)
	}
	if scheme == "" {
		return originPattern{}, fmt.Errorf("origin %q: write the scheme too, like https://%s", s, rest)
	}
	return originPattern{exact: p}, nil
}

// match reports whether origin (as the browser sent it) is covered.
func (p *originPattern) match(origin string) bool {
	if p.exact != "" {
		return httpx.EqualFold(origin, p.exact)
	}
	i := strings.Index(origin, "://")
	if i < 0 {
		return false
	}
	scheme, rest := origin[:i], origin[i+3:]
	if p.scheme != "" {
		if !httpx.EqualFold(scheme, p.scheme) {
			return false
		}
	} else if !httpx.EqualFold(scheme, "https") && !httpx.EqualFold(scheme, "http") {
		return false
	}
	host, port := splitHostPort(rest)
	return port == p.port && len(host) > len(p.suffix) && httpx.EqualFold(host[len(host)-len(p.suffix):], p.suffix) &&
		host[len(host)-len(p.suffix)-1] != '.'
}

// splitHostPort splits "host:port", "[v6]:port" or a bare host; port is "" when absent.
func splitHostPort(s string) (host, port string) {
	if strings.HasPrefix(s, "[") {
		if i := strings.IndexByte(s, ']'); i >= 0 {
			host, s = s[:i+1], s[i+1:]
			if strings.HasPrefix(s, ":") {
				port = s[1:]
			}
			return host, port
		}
		return s, ""
	}
	if i := strings.LastIndexByte(s, ':'); i >= 0 {
		return s[:i], s[i+1:]
	}
	return s, ""
}
