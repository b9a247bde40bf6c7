// Package ipfilter is the ip_filter policy: it admits or refuses a request by its client IP
// against allow and deny lists of CIDR prefixes.
//
// It judges httpx.Request.ClientIP, which the gateway has already settled (the peer, or the
// address a trusted proxy reported); it must not parse forwarding headers itself, nor know
// about config or routes.
package ipfilter

import (
	"net/netip"

	"aya/internal/httpx"
	"aya/internal/policy"
	"aya/internal/proxy"
)

// Options are the lists. The most specific prefix containing the client IP decides; when the
// same prefix is in both lists, deny wins. An address no prefix contains is refused when
// Allow is not empty, admitted otherwise.
type Options struct {
	Allow []netip.Prefix
	Deny  []netip.Prefix
}

// Filter is a built ip_filter policy.
type Filter struct {
	v4, v6       trie
	defaultAllow bool
}

// New builds the lookup tables.
func New(o Options) *Filter {
	f := &Filter{defaultAllow: len(o.Allow) == 0}
	f.v4.init()
	f.v6.init()
	add := func(ps []netip.Prefix, v verdict) {
		for _, p := range ps {
			p = p.Masked()
			a := p.Addr()
			if a.Is4In6() && p.Bits() >= 96 {
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
				a = p.Addr()
			}
			if a.Is4() {
				f.v4.insert(a, p.Bits(), v)
			} else {
				f.v6.insert(a, p.Bits(), v)
			}
		}
	}
	add(o.Allow, allow)
	add(o.Deny, deny) // after allow: on the same prefix, deny overwrites
	return f
}

// Allowed reports whether ip may pass.
func (f *Filter) Allowed(ip netip.Addr) bool {
	if !ip.IsValid() {
		return f.defaultAllow
	}
	ip = ip.Unmap()
	t := &f.v6
	if ip.Is4() {
		t = &f.v4
	}
	switch t.lookup(ip) {
	case allow:
		return true
	case deny:
		return false
	}
	return f.defaultAllow
}

// Middleware answers a refused client 403 with aya's JSON error and lets the others through.
func (f *Filter) Middleware() policy.Middleware {
	return func(next httpx.Handler) httpx.Handler {
		return httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
			if !f.Allowed(r.ClientIP) {
				proxy.WriteError(w, r, 403, "client IP is not allowed on this route")
				return
			}
			next.ServeHTTPX(w, r)
		})
	}
}
