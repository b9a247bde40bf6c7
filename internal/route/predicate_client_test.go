package route

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"aya/internal/httpx"
)

// fakeCountries maps the first octet of an IPv4 address to a country.
type fakeCountries map[byte]string

func (f fakeCountries) Country(ip netip.Addr) string {
	if !ip.Is4() {
		return ""
	}
	return f[ip.As4()[0]]
}

func fromIP(ip string, r *httpx.Request) *httpx.Request {
	if ip != "" {
		r.ClientIP = netip.MustParseAddr(ip)
	}
	return r
}

func pfx(ss ...string) []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range ss {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}

func TestClientPredicates(t *testing.T) {
	specs := []Spec{
		{Path: "/*", ClientIP: pfx("10.0.0.0/8", "2001:db8::/32"), Country: []string{"de"}},
		{Path: "/*", ClientIP: pfx("10.0.0.0/8", "::ffff:192.168.1.0/120")},
		{Path: "/*", Country: []string{"FR", "BE"}},
		{Path: "/*"},
	}
	tab, err := CompileWith(specs, Options{Countries: fakeCountries{10: "DE", 11: "FR", 192: "BE", 12: "DE"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		ip   string
		want int
	}{
		{"10.1.2.3", 0},        // in the prefix and in DE: the route with both predicates wins
		{"::ffff:10.1.2.3", 0}, // v4-mapped is the IPv4 address
		{"192.168.1.7", 1},     // a mapped prefix in config matches the plain IPv4 address
		{"11.0.0.1", 2},        // FR
		{"192.168.2.1", 2},     // BE, outside route 1's prefix
		{"12.0.0.1", 3},        // DE but outside every prefix
		{"2001:db8::1", 3},     // in route 0's prefix, but no country
		{"8.8.8.8", 3},         // unknown country
		{"", 3},                // no client IP: no client predicate passes
	} {
		i, ok := tab.Match(fromIP(tc.ip, req("GET", "example.com", "/x", "")))
		if !ok || i != tc.want {
			t.Errorf("client %q: route %d (ok %v), want %d", tc.ip, i, ok, tc.want)
		}
	}
}

func TestClientPredicateErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  Spec
		opts  Options
		field string
		msg   string
	}{
		{"country without database", Spec{Country: []string{"DE"}}, Options{}, "country", "geoip.database"},
		{"bad code", Spec{Country: []string{"DEU"}}, Options{Countries: fakeCountries{}}, "country", "alpha-2"},
		{"digits", Spec{Country: []string{"D1"}}, Options{Countries: fakeCountries{}}, "country", "alpha-2"},
		{"zero prefix", Spec{ClientIP: []netip.Prefix{{}}}, Options{}, "client_ip", "CIDR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CompileWith([]Spec{tc.spec}, tc.opts)
			var se *SpecError
			if !errors.As(err, &se) || se.Field != tc.field || !strings.Contains(se.Error(), tc.msg) {
				t.Fatalf("err = %v, want a %s error mentioning %q", err, tc.field, tc.msg)
			}
		})
	}
}

func BenchmarkMatchClientIP(b *testing.B) {
	specs := []Spec{
		{Path: "/api/*", ClientIP: pfx("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fd00::/8")},
		{Path: "/api/*", Country: []string{"DE", "FR"}},
		{Path: "/*"},
	}
	tab, err := CompileWith(specs, Options{Countries: fakeCountries{81: "DE"}})
	if err != nil {
		b.Fatal(err)
	}
	reqs := []*httpx.Request{
		fromIP("192.168.7.9", req("GET", "example.com", "/api/x", "")),
		fromIP("81.2.69.7", req("GET", "example.com", "/api/x", "")),
		fromIP("8.8.8.8", req("GET", "example.com", "/api/x", "")),
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tab.Match(reqs[i%len(reqs)])
	}
}
