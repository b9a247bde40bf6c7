package config

import (
	"fmt"
	"strings"
)

// Hash key kinds for HashKey.Kind.
const (
	HashIP     = "ip"     // the client IP (after trusted_proxies)
	HashHeader = "header" // a request header, Name is the header
	HashCookie = "cookie" // a cookie, Name is the cookie
	HashQuery  = "query"  // a query parameter, Name is the parameter
	HashPath   = "path"   // the request path
)

// HashKey says which part of a request a hashing balancer (ip_hash, consistent_hash, maglev)
// hashes. In YAML: "ip", "path", "header:NAME", "cookie:NAME" or "query:NAME".
type HashKey struct {
	Kind string // one of the Hash* constants
	Name string // for header, cookie and query; "" otherwise
}

// String formats k as written in YAML.
func (k HashKey) String() string {
	if k.Name == "" {
		return k.Kind
	}
	return k.Kind + ":" + k.Name
}

// MarshalText writes k as written in YAML.
func (k HashKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText parses "ip", "path", "header:NAME", "cookie:NAME" or "query:NAME".
func (k *HashKey) UnmarshalText(b []byte) error {
	s := string(b)
	kind, name, hasName := strings.Cut(s, ":")
	switch kind {
	case HashIP, HashPath:
		if hasName {
			return fmt.Errorf("invalid hash_key %q: %s takes no name", s, kind)
		}
	case HashHeader, HashCookie, HashQuery:
		if name == "" {
			return fmt.Errorf("invalid hash_key %q: write %s:NAME", s, kind)
		}
	default:
		return fmt.Errorf("invalid hash_key %q: use ip, path, header:NAME, cookie:NAME or query:NAME", s)
	}
	*k = HashKey{Kind: kind, Name: name}
	return nil
}
