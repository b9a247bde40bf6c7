package config

import (
	"fmt"
	"net"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
)

// validator checks the decoded config as a whole and fills derived fields (resolved paths,
// target scheme and host, route listeners). Every message names the object and points at the
// line of the offending value.
type validator struct {
	p     *problems
	lines map[string]int
	dir   string // base directory for relative file paths
	// bad are the paths of values that already failed to decode (a wrong type, say); checks
	// of the zero value left behind would only repeat the problem.
	bad map[string]bool
}

func validate(cfg *Config, p *problems, lines map[string]int, bad map[string]bool, dir string) {
	v := &validator{p: p, lines: lines, dir: dir, bad: bad}
	v.listeners(cfg)
	v.upstreams(cfg)
	v.routes(cfg)
	v.tps(cfg)
	v.alerts(cfg)
	v.admin(cfg)
	v.log(cfg)
	v.observe(cfg)
	v.llm(cfg)
	v.consumers(cfg)
	v.cacheStore(cfg)
	v.geoIP(cfg)
	v.dataDir(cfg)
	v.cluster(cfg)
}

func (v *validator) errf(line int, format string, args ...any) {
	v.p.add(line, format, args...)
}

// errAt reports a problem with the value at path, at its line (fallback when the key was not
// written), unless that value already failed to decode.
func (v *validator) errAt(path string, fallback int, format string, args ...any) {
	if v.bad[path] {
		return
	}
	v.p.add(v.line(path, fallback), format, args...)
}

// line returns the line of the value at path, or fallback when the key was not written.
func (v *validator) line(path string, fallback int) int {
	if l, ok := v.lines[path]; ok {
		return l
	}
	return fallback
}

// objName names a list element the way the decoder does: `upstream "app"` or `upstream #2`.
func objName(kind, name string, i int) string {
	if name == "" {
		return fmt.Sprintf("%s #%d", kind, i+1)
	}
	return fmt.Sprintf("%s %q", kind, name)
}

// names checks that an object has a usable, unique name. Names show up in metrics labels,
// logs and admin URLs, so they are restricted to a safe alphabet.
func (v *validator) name(kind, name string, i int, path string, line int, seen map[string]int) {
	np := path + ".name"
	if name == "" {
		v.errAt(np, line, "%s: name is required", objName(kind, "", i))
		return
	}
	if !validName(name) {
		v.errAt(np, line, "%s: invalid name: use letters, digits, '-', '_' and '.'", objName(kind, name, 0))
		return
	}
	if first, dup := seen[name]; dup {
		v.errAt(np, line, "%s: duplicate name (first defined at line %d)", objName(kind, name, 0), first)
		return
	}
	seen[name] = v.line(np, line)
}

func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || c == '.' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return s != ""
}

// splitAddress checks a listen address "host:port" (host may be empty: all interfaces) and
// returns the host as written and the port. The message says what to write instead.
func splitAddress(s string, allowZeroPort bool) (host string, port int, msg string) {
	if s == "" {
		return "", 0, "address is required: write host:port, like 127.0.0.1:8080 or :8080"
	}
	h, ps, err := net.SplitHostPort(s)
	if err != nil {
		if _, perr := strconv.Atoi(s); perr == nil {
			return "", 0, fmt.Sprintf("invalid address %q: missing host, write :%s for all interfaces or 127.0.0.1:%s", s, s, s)
		}
		return "", 0, fmt.Sprintf("invalid address %q: write host:port, like 127.0.0.1:8080, [::1]:8080 or :8080", s)
	}
	port, err = strconv.Atoi(ps)
	if err != nil || port < 0 || port > 65535 || (port == 0 && !allowZeroPort) {
		return "", 0, fmt.Sprintf("invalid address %q: port must be a number from 1 to 65535", s)
	}
	if h != "" && !validHost(h) {
		return "", 0, fmt.Sprintf("invalid address %q: %q is neither an IP address nor a host name", s, h)
	}
	return h, port, ""
}

// validHost accepts an IP address or a DNS name.
func validHost(h string) bool {
	if _, err := netip.ParseAddr(h); err == nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c == '-' || c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return false
			}
		}
	}
	return true
}

// isWildcard reports whether a listen host means every interface.
func isWildcard(h string) bool {
	if h == "" {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsUnspecified()
}

func isLoopback(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.Unmap().IsLoopback()
}

// sameHost compares listen hosts, treating different spellings of one IP as equal.
func sameHost(a, b string) bool {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	if errA == nil && errB == nil {
		return pa.Unmap() == pb.Unmap()
	}
	return strings.EqualFold(a, b)
}

// bound is an address something listens on, to find two that cannot both bind.
type bound struct {
	what string // `listener "web"` or "admin"
	addr string
	host string
	port int
	line int
}

// conflict returns the earlier address that b cannot bind beside, if any. Port 0 (any free
// port) never conflicts.
func conflict(seen []bound, b bound) (bound, bool) {
	if b.port == 0 {
		return bound{}, false
	}
	for _, s := range seen {
		if s.port == b.port && (sameHost(s.host, b.host) || isWildcard(s.host) || isWildcard(b.host)) {
			return s, true
		}
	}
	return bound{}, false
}

// isToken reports whether s is an HTTP token (RFC 9110 5.6.2): methods and header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// positiveTimeouts checks that every Duration in a timeouts struct is above zero. Zero would
// read as "no timeout" to some and "default" to others; a very long wait is written as such.
func (v *validator) positiveTimeouts(timeouts any, path, ctx string, fallback int) {
	rv := reflect.ValueOf(timeouts)
	for i := range rv.NumField() {
		name, ok := yamlName(rv.Type().Field(i))
		d, isDur := rv.Field(i).Interface().(Duration)
		if ok && isDur && d <= 0 {
			v.errAt(path+"."+name, fallback, "%s: %s must be more than 0; for a very long wait write one, like 24h", ctx, name)
		}
	}
}

func (v *validator) admin(cfg *Config) {
	a := &cfg.Admin
	l := v.line("admin.address", v.line("admin", 0))
	host, port, msg := splitAddress(a.Address, true)
	if msg != "" {
		v.errAt("admin.address", l, "admin: %s", msg)
		return
	}
	if !isLoopback(host) && a.Token == "" {
		v.errAt("admin.token", l, "admin: address %q is not loopback, so a token is required: set admin.token (for example token: ${AYA_ADMIN_TOKEN}) or bind to 127.0.0.1", a.Address)
	}
	b := bound{what: "admin", addr: a.Address, host: host, port: port, line: l}
	for i, li := range cfg.Listeners {
		h, p, msg := splitAddress(li.Address, true)
		if msg != "" || li.Protocol == ListenerUDP {
			continue // a udp listener's port is a UDP port: no clash with the admin's TCP one
		}
		other := bound{what: objName("listener", li.Name, i), addr: li.Address, host: h, port: p}
		if _, c := conflict([]bound{other}, b); c {
			v.errf(l, "admin: address %q overlaps %s (%s, line %d): use another port", a.Address, other.what, li.Address, li.Line)
		}
	}
}

func (v *validator) log(cfg *Config) {
	switch cfg.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		v.errAt("log.level", 0, "log: invalid level %q: use debug, info, warn or error%s", cfg.Log.Level,
			didYouMean(cfg.Log.Level, []string{"debug", "info", "warn", "error"}))
	}
	switch cfg.Log.Format {
	case "json", "text":
	default:
		v.errAt("log.format", 0, "log: invalid format %q: use json or text", cfg.Log.Format)
	}
}
