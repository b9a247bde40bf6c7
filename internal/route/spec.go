package route

import (
	"fmt"
	"net/netip"
)

// Spec says which requests one route takes. Every non-empty field must match. The forms each
// field accepts, and which Spec wins when several match, are described in docs/routing.md.
type Spec struct {
	// Listeners names the listeners the route serves; empty means all of them.
	Listeners []string
	// Host is "" or "*" for any host, "api.example.com" for exactly that host (case-insensitive,
	// the request's port ignored), or "*.example.com" for any subdomain at any depth (not the
	// apex example.com itself).
	Host string
	// Path is "" or "/*" for any path, "/a/b" for exactly that path, "/a/*" for "/a", "/a/" and
	// everything below, "/users/{id}" for one non-empty segment per parameter, or "~<regex>".
	Path string
	// PathRegex is an RE2 regex on the raw path, unanchored; the alternative to "~" in Path.
	PathRegex string
	// Methods lists the accepted methods; empty means any.
	Methods []string
	// Headers maps a header name (case-insensitive) to the exact value its first field must
	// have; the value "*" only requires the header to be present.
	Headers map[string]string
	// Query maps a raw query key to the exact raw value its first occurrence must have; the
	// value "*" only requires the key to be present.
	Query map[string]string
	// ClientIP lists the prefixes the request's client IP (after trusted proxies) must be in
	// one of; a bare address is written as a /32 or /128 prefix.
	ClientIP []netip.Prefix
	// Country lists ISO 3166-1 alpha-2 codes (case-insensitive) the client IP's country must
	// be one of. It needs Options.Countries; a Spec with countries and no lookup is an error.
	Country []string
}

// SpecError is one problem with one Spec, as returned (joined with the others) by Compile. Index
// lets a caller point at the config line that holds the spec.
type SpecError struct {
	Index int    // position of the Spec in the slice given to Compile
	Field string // "listeners", "host", "path", "path_regex", "methods", "headers", "query", "client_ip" or "country"
	Err   error
}

func (e *SpecError) Error() string {
	return fmt.Sprintf("route %d: %s: %v", e.Index, e.Field, e.Err)
}

func (e *SpecError) Unwrap() error { return e.Err }
