package route

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Countries tells which country an address is in, for Spec.Country. Country returns an
// upper-case ISO 3166-1 alpha-2 code, or "" when unknown, and must not allocate: it runs on
// every match of a route with countries.
type Countries interface {
	Country(ip netip.Addr) string
}

// clientMatch is a route's client IP and country predicates.
type clientMatch struct {
	prefixes  []netip.Prefix // IPv4 prefixes unmapped, so they meet unmapped client IPs
	countries Countries
	codes     []string // upper case; empty: no country predicate
}

// accepts reports whether ip passes the prefix and country predicates. An unknown client IP
// (a request that did not come over IP) passes neither.
func (c *clientMatch) accepts(ip netip.Addr) bool {
	if len(c.prefixes) == 0 && len(c.codes) == 0 {
		return true
	}
	ip = ip.Unmap()
	if !ip.IsValid() {
		return false
	}
	if len(c.prefixes) > 0 && !containsAddr(c.prefixes, ip) {
		return false
	}
	if len(c.codes) > 0 {
		code := c.countries.Country(ip)
		return code != "" && slices.Contains(c.codes, code)
	}
	return true
}

func containsAddr(ps []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ps {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// parseClient fills rt's client predicates from s.
func parseClient(index int, s Spec, rt *route) []error {
	var errs []error
	bad := func(field string, format string, args ...any) {
		errs = append(errs, &SpecError{Index: index, Field: field, Err: fmt.Errorf(format, args...)})
	}
	for _, p := range s.ClientIP {
		if !p.IsValid() {
			bad("client_ip", "invalid prefix; write an address or a CIDR like 10.0.0.0/8 or fd00::/8")
			continue
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		rt.client.prefixes = append(rt.client.prefixes, p.Masked())
	}
	for _, code := range s.Country {
		if len(code) != 2 || !isAlpha(code) {
			bad("country", "%q is not a country code; write ISO 3166-1 alpha-2 codes like DE or US", code)
			continue
		}
		rt.client.codes = append(rt.client.codes, strings.ToUpper(code))
	}
	if len(rt.client.codes) > 0 && rt.client.countries == nil {
		bad("country", "matching on country needs a country database; configure geoip.database")
	}
	if len(rt.client.prefixes) > 0 {
		rt.weight++
	}
	if len(rt.client.codes) > 0 {
		rt.weight++
	}
	return errs
}

func isAlpha(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
