package config

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Listener protocols for Listener.Protocol.
const (
	ListenerHTTP = "http" // HTTP/1.1, HTTP/2 (TLS or h2c): routes
	ListenerTCP  = "tcp"  // bytes to Upstream's tcp:// targets (L4)
	ListenerUDP  = "udp"  // datagrams to Upstream's udp:// targets (L4)
)

// IsL4 reports whether the listener proxies bytes (tcp) or datagrams (udp) instead of serving
// routes.
func (l *Listener) IsL4() bool { return l.Protocol == ListenerTCP || l.Protocol == ListenerUDP }

// SNIDefault is the SNI key that matches every server name no other key matches.
const SNIDefault = "*"

// L4Upstreams lists the upstreams a tcp or udp listener may send to: Upstream and the
// SNI map's values, each once, sorted.
func (l *Listener) L4Upstreams() []string {
	var names []string
	if l.Upstream != "" {
		names = append(names, l.Upstream)
	}
	for _, u := range l.SNI {
		names = append(names, u)
	}
	sort.Strings(names)
	return slices.Compact(names)
}

// l4Listener validates a listener's protocol (http, tcp, udp) and the keys tcp and udp take.
// That the upstreams it names exist and hold targets of its protocol is checked with the
// upstreams (l4Upstreams), once their targets are parsed.
func (v *validator) l4Listener(l *Listener, path, ctx string) {
	switch l.Protocol {
	case ListenerHTTP:
		if l.Upstream != "" {
			v.errAt(path+".upstream", l.Line, "%s: upstream is for tcp and udp listeners; an http listener sends requests where its routes say: remove upstream or set protocol: tcp", ctx)
		}
		if len(l.SNI) > 0 {
			v.errAt(path+".sni", l.Line, "%s: sni routes tcp listeners by TLS server name; an http listener matches host in its routes: remove sni or set protocol: tcp", ctx)
		}
		if l.ProxyProtocol != nil {
			v.errAt(path+".proxy_protocol", l.Line, "%s: proxy_protocol is supported on tcp listeners only", ctx)
		}
		return
	case ListenerTCP, ListenerUDP:
	default:
		v.errAt(path+".protocol", l.Line, "%s: unknown protocol %q: use http, tcp or udp", ctx, l.Protocol)
		return
	}

	if l.TLS != nil {
		v.errAt(path+".tls", l.Line, "%s: a %s listener does not terminate TLS: remove tls (a tcp listener passes TLS through to its targets, and sni routes it by server name)", ctx, l.Protocol)
	}
	if l.H2C {
		v.errAt(path+".h2c", l.Line, "%s: h2c is for http listeners; remove it", ctx)
	}
	if len(l.Policies) > 0 {
		v.errAt(path+".policies", l.Line, "%s: policies apply to HTTP requests; a %s listener has none: remove policies", ctx, l.Protocol)
	}
	if len(l.TrustedProxies) > 0 {
		v.errAt(path+".trusted_proxies", l.Line, "%s: trusted_proxies reads HTTP headers; on a tcp listener use proxy_protocol: {accept: true}", ctx)
	}
	if l.Protocol == ListenerUDP {
		if len(l.SNI) > 0 {
			v.errAt(path+".sni", l.Line, "%s: sni reads a TLS ClientHello, which only tcp carries: remove sni or set protocol: tcp", ctx)
		}
		if l.ProxyProtocol != nil {
			v.errAt(path+".proxy_protocol", l.Line, "%s: proxy_protocol is supported on tcp listeners only", ctx)
		}
	}
	if l.Upstream == "" && len(l.SNI) == 0 {
		v.errAt(path+".upstream", l.Line, "%s: a %s listener needs upstream: the upstream (of %s:// targets) it sends to", ctx, l.Protocol, l.Protocol)
	}
	if l.Upstream != "" && l.SNI[SNIDefault] != "" {
		v.errAt(path+".sni", l.Line, `%s: sni "*" and upstream both name the default upstream: keep one`, ctx)
	}
	// Without upstream or sni "*", a server name no key matches is refused: legal, on purpose.
	v.sniKeys(l, path, ctx)
	if pp := l.ProxyProtocol; pp != nil {
		switch pp.Send {
		case "", ProxyProtocolV1, ProxyProtocolV2:
		default:
			v.errAt(path+".proxy_protocol.send", pp.Line, "%s proxy_protocol: send must be v1 or v2, got %q", ctx, pp.Send)
		}
	}
}

// sniKeys checks the server names of an sni map.
func (v *validator) sniKeys(l *Listener, path, ctx string) {
	for name, up := range l.SNI {
		kp := path + ".sni." + name
		host := strings.TrimPrefix(name, "*.")
		switch {
		case name == SNIDefault:
		case !validHost(host) || strings.Contains(host, "*") || strings.Contains(name, ":"):
			v.errAt(kp, l.Line, `%s sni: %q is not a server name: use "host.example", "*.example" or "*"`, ctx, name)
		case name != strings.ToLower(name):
			v.errAt(kp, l.Line, "%s sni: write %q in lower case (server names match case-insensitively)", ctx, name)
		}
		if up == "" {
			v.errAt(kp, l.Line, "%s sni: %q names no upstream", ctx, name)
		}
	}
}

// l4Upstreams checks what ties tcp and udp listeners to upstreams: each upstream they name
// exists and holds only targets of the listener's protocol, no route sends HTTP to such an
// upstream, and an upstream serves one protocol. It fills L4 defaults the upstream did not
// write: tcp (connect) health checks, and for udp, ejection after a refused datagram.
func (v *validator) l4Upstreams(cfg *Config) {
	byName := make(map[string]int, len(cfg.Upstreams))
	names := make([]string, 0, len(cfg.Upstreams))
	for i := range cfg.Upstreams {
		byName[cfg.Upstreams[i].Name] = i
		names = append(names, cfg.Upstreams[i].Name)
	}
	// proto is the L4 protocol each upstream is used with, and by which listener.
	proto := map[string]string{}
	users := map[string]string{}
	l4Listeners := map[string]bool{}
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		if !l.IsL4() {
			continue
		}
		l4Listeners[l.Name] = true
		path := fmt.Sprintf("listeners[%d]", i)
		ctx := objName("listener", l.Name, i)
		for _, name := range l.L4Upstreams() {
			kp := path + ".upstream"
			if name != l.Upstream {
				kp = path + ".sni"
			}
			ui, ok := byName[name]
			if !ok {
				v.errAt(kp, l.Line, "%s: upstream %q is not defined%s", ctx, name, didYouMean(name, names))
				continue
			}
			if p, ok := proto[name]; ok && p != l.Protocol {
				v.errAt(kp, l.Line, "%s: upstream %q already serves %s (%s); a %s listener needs its own upstream of %s:// targets", ctx, name, users[name], p, l.Protocol, l.Protocol)
				continue
			}
			proto[name], users[name] = l.Protocol, ctx
			v.l4Targets(&cfg.Upstreams[ui], fmt.Sprintf("upstreams[%d]", ui), l.Protocol, ctx)
		}
	}
	// An upstream of tcp:// or udp:// targets is an L4 upstream even before a listener names
	// it (it may be staged for one); it must not mix in HTTP targets.
	for i := range cfg.Upstreams {
		u := &cfg.Upstreams[i]
		path := fmt.Sprintf("upstreams[%d]", i)
		kind := proto[u.Name]
		for j := range u.Targets {
			t := &u.Targets[j]
			l4 := t.Scheme == SchemeTCP || t.Scheme == SchemeUDP
			switch {
			case t.Scheme == "" || kind == "" && !l4:
			case kind == "":
				kind = t.Scheme
			case !l4 && proto[u.Name] == "":
				v.errAt(fmt.Sprintf("%s.targets[%d].url", path, j), t.Line, "upstream %q: target %q is HTTP but the upstream's other targets are %s://: an upstream serves one protocol", u.Name, t.URL, kind)
			}
		}
		if kind != "" {
			proto[u.Name] = kind
			v.l4Defaults(u, path, kind)
		}
	}
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		path := fmt.Sprintf("routes[%d]", i)
		ctx := objName("route", r.Name, i)
		if p, ok := proto[r.Upstream]; ok {
			v.errAt(path+".upstream", r.Line, "%s: upstream %q is a %s upstream (%s:// targets, for tcp and udp listeners): a route needs one of http:// targets", ctx, r.Upstream, p, p)
		}
		if f := r.Fallback; f != nil {
			if p, ok := proto[f.Upstream]; ok {
				v.errAt(path+".fallback.upstream", r.Line, "%s fallback: upstream %q is a %s upstream, not HTTP", ctx, f.Upstream, p)
			}
		}
		for j, name := range r.Listeners {
			if l4Listeners[name] {
				v.errAt(fmt.Sprintf("%s.listeners[%d]", path, j), r.Line, "%s: listener %q is a tcp/udp listener, which serves no routes: remove it from listeners", ctx, name)
			}
		}
	}
}

// l4Targets checks that u's targets suit a listener of protocol.
func (v *validator) l4Targets(u *Upstream, upath, protocol, ctx string) {
	if u.Discovery != nil {
		v.errf(u.Line, "%s: upstream %q: discovery finds HTTP targets; list the %s:// targets of a %s listener's upstream in targets", ctx, u.Name, protocol, protocol)
	}
	if u.Sticky != nil {
		v.errf(u.Line, "%s: upstream %q: sticky cookies are HTTP; for a %s listener use balance: maglev (client IP)", ctx, u.Name, protocol)
	}
	if k := u.HashKey.String(); k != "ip" {
		v.errAt(upath+".hash_key", u.Line, "%s: upstream %q: hash_key %s reads HTTP requests; a %s listener's upstream hashes the client IP (hash_key: ip)", ctx, u.Name, k, protocol)
	}
	for j := range u.Targets {
		t := &u.Targets[j]
		if t.Scheme != "" && t.Scheme != protocol {
			v.errf(t.Line, "%s: upstream %q target %q: a %s listener's upstream holds only %s:// targets", ctx, u.Name, t.URL, protocol, protocol)
		}
	}
}

// l4Defaults fills what an upstream of a tcp or udp listener did not write: health checks
// connect over TCP (an HTTP check would fail against a database), and a udp target that
// refuses a datagram (ICMP port unreachable) is ejected at once, since there are no active
// checks of UDP to notice it.
func (v *validator) l4Defaults(u *Upstream, path, protocol string) {
	if h := u.Health; h != nil {
		if _, written := v.lines[path+".health.type"]; !written {
			h.Type = HealthTCP
		}
	}
	if protocol == ListenerUDP && u.Outlier == nil {
		u.Outlier = &Outlier{
			ConsecutiveConnectFailures: 1,
			Interval:                   Duration(10 * time.Second),
			BaseEjection:               Duration(30 * time.Second),
			MaxEjection:                Duration(5 * time.Minute),
			MaxEjectedPercent:          Ratio(0.5),
		}
	}
}
