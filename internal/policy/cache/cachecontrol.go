package cache

import "aya/internal/httpx"

// directives are the Cache-Control directives the cache acts on. Delta-seconds are -1 when
// absent. Unknown directives are ignored, as RFC 9111 §5.2 requires.
type directives struct {
	noStore, noCache, private, public bool
	// mustRevalidate covers must-revalidate and proxy-revalidate: never serve stale.
	mustRevalidate   bool
	maxAge, sMaxAge  int64
	staleRevalidate  int64 // stale-while-revalidate (RFC 5861)
	staleIfError     int64 // stale-if-error (RFC 5861)
	onlyIfCached     bool
	hasCacheControl  bool
	pragmaNoCacheSet bool
}

// maxDelta caps delta-seconds at 2^31 as RFC 9111 §1.2.2 advises, so arithmetic never
// overflows whatever a server writes.
const maxDelta = 1 << 31

// parseDirectives reads every Cache-Control field of h (and Pragma: no-cache, which counts
// only when Cache-Control is absent). It allocates nothing.
func parseDirectives(h httpx.Header) directives {
	d := directives{maxAge: -1, sMaxAge: -1, staleRevalidate: -1, staleIfError: -1}
	for i := range h {
		switch {
		case httpx.EqualFold(h[i].Name, "Cache-Control"):
			d.hasCacheControl = true
			d.parse(h[i].Value)
		case httpx.EqualFold(h[i].Name, "Pragma"):
			if containsToken(h[i].Value, "no-cache") {
				d.pragmaNoCacheSet = true
			}
		}
	}
	if !d.hasCacheControl && d.pragmaNoCacheSet {
		d.noCache = true
	}
	return d
}

func (d *directives) parse(s string) {
	for s != "" {
		var item string
		item, s = nextListItem(s)
		name, value := item, ""
		for j := 0; j < len(item); j++ {
			if item[j] == '=' {
				name, value = trimOWS(item[:j]), unquote(trimOWS(item[j+1:]))
				break
			}
		}
		switch {
		case httpx.EqualFold(name, "no-store"):
			d.noStore = true
		case httpx.EqualFold(name, "no-cache"):
			// no-cache="field" limits the directive to fields; treating it as a whole
			// no-cache is the safe reading.
			d.noCache = true
		case httpx.EqualFold(name, "private"):
			d.private = true
		case httpx.EqualFold(name, "public"):
			d.public = true
		case httpx.EqualFold(name, "must-revalidate"), httpx.EqualFold(name, "proxy-revalidate"):
			d.mustRevalidate = true
		case httpx.EqualFold(name, "only-if-cached"):
			d.onlyIfCached = true
		case httpx.EqualFold(name, "max-age"):
			d.maxAge = deltaSeconds(value)
		case httpx.EqualFold(name, "s-maxage"):
			d.sMaxAge = deltaSeconds(value)
		case httpx.EqualFold(name, "stale-while-revalidate"):
			d.staleRevalidate = deltaSeconds(value)
		case httpx.EqualFold(name, "stale-if-error"):
			d.staleIfError = deltaSeconds(value)
		}
	}
}

// deltaSeconds parses a non-negative decimal. A missing or malformed value counts as 0, so
// the response is stale at once, as RFC 9111 §4.2.1 asks for an invalid max-age.
func deltaSeconds(s string) int64 {
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0
		}
		if n < maxDelta {
			n = n*10 + int64(c-'0')
		}
	}
	return min(n, maxDelta)
}

// nextListItem splits a comma-separated list, keeping commas inside quoted strings.
func nextListItem(s string) (item, rest string) {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case '\\':
			if quoted {
				i++
			}
		case ',':
			if !quoted {
				return trimOWS(s[:i]), s[i+1:]
			}
		}
	}
	return trimOWS(s), ""
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// containsToken reports whether the comma-separated list s holds token (case-insensitive).
func containsToken(s, token string) bool {
	for s != "" {
		var item string
		item, s = nextListItem(s)
		if httpx.EqualFold(item, token) {
			return true
		}
	}
	return false
}
