package route

import (
	"fmt"
	"net/netip"
	"strings"
)

// maxHostLen is the longest DNS name. Longer configured hosts are refused, so a request host
// longer than this can only match host-less routes, and lowercasing it fits a stack buffer.
const maxHostLen = 253

type hostKind uint8

// The order is the precedence order: exact hosts first.
const (
	hostExact hostKind = iota
	hostWildcard
	hostAny
)

// parseHost returns the kind of a configured host and its lookup key: the lowercased host for
// an exact host, the lowercased suffix with its leading dot (".example.com") for a wildcard.
func parseHost(h string) (hostKind, string, error) {
	if h == "" || h == "*" {
		return hostAny, "", nil
	}
	if rest, ok := strings.CutPrefix(h, "*."); ok {
		if strings.HasPrefix(rest, "[") {
			return 0, "", fmt.Errorf("%q: a wildcard cannot cover an IP address; list the address itself", h)
		}
		name, err := parseHostName(h, rest)
		if err != nil {
			return 0, "", err
		}
		return hostWildcard, "." + name, nil
	}
	if strings.HasPrefix(h, "[") {
		return parseIPv6Host(h)
	}
	name, err := parseHostName(h, h)
	if err != nil {
		return 0, "", err
	}
	return hostExact, name, nil
}

// parseHostName checks a DNS name or IPv4 address and lowercases it. A single trailing dot is
// dropped, as it is from request hosts, so "example.com." and "example.com" are one host.
func parseHostName(full, name string) (string, error) {
	if strings.Contains(name, "*") {
		return "", fmt.Errorf("%q: '*' is only allowed as the whole first label, as in \"*.example.com\"", full)
	}
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return "", fmt.Errorf("%q: a host must not include a port (the request's port is ignored when matching); remove %q", full, name[i:])
	}
	name = strings.TrimSuffix(name, ".")
	if name == "" {
		return "", fmt.Errorf("%q: empty host name", full)
	}
	if len(name) > maxHostLen {
		return "", fmt.Errorf("%q: longer than %d bytes, the limit for a DNS name", full, maxHostLen)
	}
	for label := range strings.SplitSeq(name, ".") {
		if label == "" {
			return "", fmt.Errorf("%q: empty label (\"..\")", full)
		}
		for i := 0; i < len(label); i++ {
			if c := label[i]; !isHostByte(c) {
				return "", fmt.Errorf("%q: %q is not allowed in a host name; use letters, digits, '-' and '_' (punycode for international names)", full, c)
			}
		}
	}
	return strings.ToLower(name), nil
}

func parseIPv6Host(h string) (hostKind, string, error) {
	end := strings.IndexByte(h, ']')
	if end < 0 {
		return 0, "", fmt.Errorf("%q: missing ']' after an IPv6 address", h)
	}
	if end != len(h)-1 {
		return 0, "", fmt.Errorf("%q: a host must not include a port (the request's port is ignored when matching); remove %q", h, h[end+1:])
	}
	addr, err := netip.ParseAddr(h[1:end])
	if err != nil || !addr.Is6() || addr.Zone() != "" {
		return 0, "", fmt.Errorf("%q: not an IPv6 address; write it as in \"[2001:db8::1]\"", h)
	}
	// Request hosts are compared byte for byte after lowercasing, so the config must be
	// written the way clients send it: RFC 5952's canonical form, which is what netip prints.
	if want := "[" + addr.String() + "]"; strings.ToLower(h) != want {
		return 0, "", fmt.Errorf("%q: write the IPv6 address in canonical form, %q", h, want)
	}
	return hostExact, strings.ToLower(h), nil
}

func isHostByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_'
}
