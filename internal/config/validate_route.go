package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
)

func (v *validator) routes(cfg *Config) {
	var listeners, httpListeners, upstreams []string
	for _, l := range cfg.Listeners {
		listeners = append(listeners, l.Name)
		if !l.IsL4() {
			httpListeners = append(httpListeners, l.Name) // L4 listeners serve no routes
		}
	}
	for _, u := range cfg.Upstreams {
		upstreams = append(upstreams, u.Name)
	}
	names := make(map[string]int)
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		path := fmt.Sprintf("routes[%d]", i)
		if v.bad[path] {
			continue
		}
		v.name("route", r.Name, i, path, r.Line, names)
		ctx := objName("route", r.Name, i)

		if len(r.Listeners) == 0 {
			r.Listeners = slices.Clone(httpListeners)
		} else {
			for j, name := range r.Listeners {
				lp := fmt.Sprintf("%s.listeners[%d]", path, j)
				switch {
				case !slices.Contains(listeners, name):
					v.errAt(lp, r.Line, "%s: listener %q is not defined%s", ctx, name, didYouMean(name, listeners))
				case slices.Index(r.Listeners, name) < j:
					v.errAt(lp, r.Line, "%s: listener %q is listed twice", ctx, name)
				}
			}
		}

		v.match(&r.Match, path+".match", ctx+" match", r.Line)
		v.headerOps(&r.RequestHeaders, path+".request_headers", ctx+" request_headers", r.Line)
		v.headerOps(&r.ResponseHeaders, path+".response_headers", ctx+" response_headers", r.Line)

		v.policies(cfg, r.Policies, path, ctx, r.Line, r)
		switch up := path + ".upstream"; {
		case r.Upstream == "" && terminalPolicy(r.Policies):
			// the route's policies answer every request themselves
		case r.Upstream == "":
			v.errAt(up, r.Line, "%s: upstream is required: name the upstream this route sends requests to", ctx)
		case !slices.Contains(upstreams, r.Upstream):
			v.errAt(up, r.Line, "%s: upstream %q is not defined%s", ctx, r.Upstream, didYouMean(r.Upstream, upstreams))
		}

		if f := r.Fallback; f != nil {
			fp := path + ".fallback"
			fl := v.line(fp, r.Line)
			switch {
			case f.Upstream != "" && f.Body != "":
				v.errAt(fp, fl, "%s fallback: upstream and body both set: a fallback is another upstream or a static answer, not both", ctx)
			case f.Upstream != "" && !slices.Contains(upstreams, f.Upstream):
				v.errAt(fp+".upstream", fl, "%s fallback: upstream %q is not defined%s", ctx, f.Upstream, didYouMean(f.Upstream, upstreams))
			case f.Upstream != "" && f.Upstream == r.Upstream:
				v.errAt(fp+".upstream", fl, "%s fallback: upstream %q is the route's own upstream; name another one", ctx, f.Upstream)
			}
			if f.Status < 200 || f.Status > 599 {
				v.errAt(fp+".status", fl, "%s fallback: status must be from 200 to 599, got %d", ctx, f.Status)
			}
		}

		if f := r.Fault; f != nil {
			v.fault(f, path+".fault", ctx+" fault", r.Line)
		}

		if sp := r.StripPrefix; sp != "" {
			if sp[0] != '/' || (len(sp) > 1 && sp[len(sp)-1] == '/') || strings.ContainsAny(sp, "*{}?# ") {
				v.errAt(path+".strip_prefix", r.Line, `%s: strip_prefix %q must be a plain path starting with / and not ending with /, like "/api"`, ctx, sp)
			}
		}
	}
}

func (v *validator) match(m *Match, path, ctx string, routeLine int) {
	if m.Line == 0 {
		m.Line = routeLine
	}
	if m.Host != "" {
		host, msg := normalizeHost(m.Host)
		if msg != "" {
			v.errAt(path+".host", m.Line, "%s: %s", ctx, msg)
		}
		m.Host = host
	}

	if strings.HasPrefix(m.Path, "~") {
		if m.PathRegex != "" {
			v.errAt(path+".path", m.Line, `%s: path "~..." and path_regex both set a regex: keep one`, ctx)
		} else {
			m.PathRegex, m.Path = m.Path[1:], ""
			v.lines[path+".path_regex"] = v.line(path+".path", m.Line)
		}
	}
	if m.Path != "" && m.PathRegex != "" {
		v.errAt(path+".path_regex", m.Line, "%s: path and path_regex are both set: keep one", ctx)
	}
	if m.Path != "" {
		if msg := checkPathPattern(m.Path); msg != "" {
			v.errAt(path+".path", m.Line, "%s: %s", ctx, msg)
		}
	}
	if m.PathRegex != "" {
		if _, err := regexp.Compile(m.PathRegex); err != nil {
			v.errAt(path+".path_regex", m.Line, "%s: invalid path regex %q: %v", ctx, m.PathRegex, err)
		}
	}

	for i, meth := range m.Methods {
		up := strings.ToUpper(meth)
		if !isToken(up) {
			v.errAt(fmt.Sprintf("%s.methods[%d]", path, i), m.Line, "%s: invalid method %q: a method is one word like GET or POST", ctx, meth)
		}
		m.Methods[i] = up
	}
	for name := range m.Headers {
		if !isToken(name) {
			v.errAt(path+".headers."+name, m.Line, "%s: invalid header name %q", ctx, name)
		}
	}
	for name := range m.Query {
		if name == "" {
			v.errAt(path+".query", m.Line, "%s: empty query parameter name", ctx)
		}
	}
}

// normalizeHost lower-cases a host pattern, turns "*" into "" (any host) and checks the
// wildcard form "*.example.com".
func normalizeHost(h string) (string, string) {
	if h == "*" {
		return "", ""
	}
	h = strings.ToLower(h)
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		if a, err := netip.ParseAddr(h[1 : len(h)-1]); err == nil && a.Is6() {
			return h, ""
		}
		return h, fmt.Sprintf("invalid host %q: not an IPv6 address", h)
	}
	if strings.Contains(h, ":") {
		return h, fmt.Sprintf("invalid host %q: match hosts without a port (the port is ignored when matching)", h)
	}
	rest := strings.TrimPrefix(h, "*.")
	if strings.Contains(rest, "*") {
		return h, fmt.Sprintf(`invalid host %q: a wildcard must be the whole leftmost label, like "*.example.com"`, h)
	}
	if !validHost(rest) {
		return h, fmt.Sprintf("invalid host %q: not a host name", h)
	}
	return h, ""
}

// checkPathPattern checks the path forms the router supports: exact "/a", prefix "/a/*"
// ("*" only as the whole last segment) and parameters "/users/{id}" (whole segments).
func checkPathPattern(p string) string {
	if p[0] != '/' {
		return fmt.Sprintf(`invalid path %q: must start with /, like "/api/*" (or "~regex" for a regex)`, p)
	}
	if strings.ContainsAny(p, " \t?#") || strings.ContainsFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return fmt.Sprintf("invalid path %q: no spaces, control characters, ? or # (match the query with query:)", p)
	}
	if strings.Contains(p, "//") {
		return fmt.Sprintf(`invalid path %q: empty segment ("//")`, p)
	}
	if strings.ContainsFunc(p, func(r rune) bool { return r >= 0x80 }) {
		return fmt.Sprintf("invalid path %q: percent-encode non-ASCII characters, as clients send them", p)
	}
	if strings.Count(p, "{") != strings.Count(p, "}") {
		return fmt.Sprintf(`invalid path %q: unbalanced { }: write parameters like "/users/{id}"`, p)
	}
	segs := strings.Split(p[1:], "/")
	params := make(map[string]bool)
	for i, seg := range segs {
		switch {
		case seg == "*":
			if i != len(segs)-1 {
				return fmt.Sprintf(`invalid path %q: * is allowed only as the last segment, like "/api/*"`, p)
			}
		case strings.Contains(seg, "*"):
			return fmt.Sprintf(`invalid path %q: * must be a whole last segment, like "/api/*" (or use a regex)`, p)
		case strings.ContainsAny(seg, "{}"):
			if seg[0] != '{' || seg[len(seg)-1] != '}' || strings.Count(seg, "{") != 1 || strings.Count(seg, "}") != 1 {
				return fmt.Sprintf(`invalid path %q: a parameter must be a whole segment, like "/users/{id}"`, p)
			}
			name := seg[1 : len(seg)-1]
			if !validName(name) {
				return fmt.Sprintf("invalid path %q: parameter {%s} needs a name of letters, digits, '-', '_' or '.'", p, name)
			}
			if params[name] {
				return fmt.Sprintf("invalid path %q: parameter {%s} appears twice", p, name)
			}
			params[name] = true
		}
	}
	return ""
}

// framingHeaders are managed by aya's protocol engines; editing them would corrupt messages.
func framingHeader(name string) bool {
	switch strings.ToLower(name) {
	case "connection", "content-length", "transfer-encoding", "te", "trailer", "upgrade", "keep-alive", "proxy-connection":
		return true
	}
	return false
}

func (v *validator) headerOps(h *HeaderOps, path, ctx string, routeLine int) {
	fallback := v.line(path, routeLine)
	check := func(name, p string) {
		switch {
		case !isToken(name):
			v.errAt(p, fallback, "%s: invalid header name %q", ctx, name)
		case framingHeader(name):
			v.errAt(p, fallback, "%s: %s is managed by aya (message framing) and cannot be edited", ctx, name)
		}
	}
	for name := range h.Set {
		check(name, path+".set."+name)
	}
	for name := range h.Add {
		check(name, path+".add."+name)
	}
	for i, name := range h.Remove {
		check(name, fmt.Sprintf("%s.remove[%d]", path, i))
	}
}

func (v *validator) fault(f *Fault, path, ctx string, line int) {
	line = v.line(path, line)
	if f.Delay == nil && f.Abort == nil {
		v.errAt(path, line, "%s: set delay and/or abort, like fault: {delay: {duration: 200ms, percent: 10}, abort: {status: 503, percent: 5}}", ctx)
	}
	if d := f.Delay; d != nil {
		v.positive(path+".delay.duration", line, ctx+" delay", "duration", d.Duration)
	}
	if a := f.Abort; a != nil && (a.Status < 200 || a.Status > 599) {
		v.errAt(path+".abort.status", line, "%s abort: status must be from 200 to 599, got %d", ctx, a.Status)
	}
	if f.Header != "" && !isToken(f.Header) {
		v.errAt(path+".header", line, "%s: %q is not a valid header name", ctx, f.Header)
	}
	if f.Header == "" && (f.Delay == nil || f.Delay.Percent == 0) && (f.Abort == nil || f.Abort.Percent == 0) {
		v.errAt(path, line, "%s: no percent and no header: the faults would never happen; set a percent or header: X-Aya-Fault", ctx)
	}
}
