package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// balancers lists the valid Upstream.Balance values, in the order messages show them.
func balancers() []string {
	return []string{
		BalanceRoundRobin, BalanceWeightedRoundRobin, BalanceLeastConn, BalanceWeightedLeastConn,
		BalanceRandom, BalanceP2C, BalanceLeastTime, BalanceIPHash, BalanceConsistentHash, BalanceMaglev,
	}
}

// maxWeight keeps weights in a range every balancer handles without overflow or huge tables.
const maxWeight = 1_000_000

func (v *validator) upstreams(cfg *Config) {
	names := make(map[string]int)
	for i := range cfg.Upstreams {
		u := &cfg.Upstreams[i]
		path := fmt.Sprintf("upstreams[%d]", i)
		if v.bad[path] {
			continue
		}
		v.name("upstream", u.Name, i, path, u.Line, names)
		ctx := objName("upstream", u.Name, i)

		valid := balancers()
		known := false
		for _, b := range valid {
			known = known || b == u.Balance
		}
		if !known {
			v.errAt(path+".balance", u.Line, "%s: unknown balance algorithm %q%s; valid: %s",
				ctx, u.Balance, didYouMean(u.Balance, valid), strings.Join(valid, ", "))
		}

		if len(u.Targets) == 0 && u.Discovery == nil {
			v.errAt(path+".targets", u.Line, `%s: targets is empty: add at least one, like {url: "http://127.0.0.1:9000"}`, ctx)
		}
		seen := make(map[string]int)
		hasTLS := false
		for j := range u.Targets {
			t := &u.Targets[j]
			v.target(t, fmt.Sprintf("%s.targets[%d]", path, j), fmt.Sprintf("%s target #%d", ctx, j+1), seen)
			hasTLS = hasTLS || t.Scheme == SchemeHTTPS
		}

		v.positiveTimeouts(u.Timeouts, path+".timeouts", ctx+" timeouts", u.Line)
		v.assurance(u, path, ctx)
		if u.Pool.MaxIdle < 0 {
			v.errAt(path+".pool.max_idle", u.Line, "%s pool: max_idle must not be negative (0 keeps no idle connection)", ctx)
		}
		if u.TLS != nil {
			v.upstreamTLS(u.TLS, path+".tls", ctx+" tls")
			if !hasTLS && len(u.Targets) > 0 {
				v.errf(u.TLS.Line, "%s: tls applies only to https targets and this upstream has none", ctx)
			}
		}
	}
	v.l4Upstreams(cfg)
}

func (v *validator) target(t *Target, path, ctx string, seen map[string]int) {
	if v.bad[path] {
		return
	}
	up := path + ".url"
	ul := v.line(up, t.Line)
	if t.URL == "" {
		v.errAt(up, t.Line, `%s: url is required, like "http://127.0.0.1:9000"`, ctx)
	} else if scheme, host, msg := parseTarget(t.URL); msg != "" {
		v.errAt(up, t.Line, "%s: %s", ctx, msg)
	} else {
		t.Scheme, t.Host = scheme, host
		key := scheme + "://" + host
		if first, dup := seen[key]; dup {
			v.errf(ul, "%s: duplicate target %s (first at line %d): raise the weight instead", ctx, key, first)
		}
		seen[key] = ul
	}

	if t.Weight < 1 || t.Weight > maxWeight {
		v.errAt(path+".weight", t.Line, "%s: weight must be from 1 to %d, got %d", ctx, maxWeight, t.Weight)
	}

	pp := path + ".protocol"
	_, explicit := v.lines[pp]
	switch {
	case t.Protocol != ProtocolH1 && t.Protocol != ProtocolH2:
		v.errAt(pp, t.Line, "%s: invalid protocol %q: use h1 or h2", ctx, t.Protocol)
	case t.Scheme == SchemeH2C:
		if explicit && t.Protocol == ProtocolH1 {
			v.errAt(pp, t.Line, "%s: an h2c target always speaks HTTP/2; remove protocol h1 or use http://", ctx)
		}
		t.Protocol = ProtocolH2
	case t.Scheme == SchemeHTTP && t.Protocol == ProtocolH2:
		v.errAt(pp, t.Line, "%s: protocol h2 needs an https target; for cleartext HTTP/2 write the url as h2c://host:port", ctx)
	}
}

// NewTarget returns the config of a target added at run time (admin API, DNS discovery),
// checked and completed as validation does for the file's targets.
func NewTarget(url string, weight int) (Target, error) {
	scheme, host, msg := parseTarget(url)
	if msg != "" {
		return Target{}, fmt.Errorf("%s", msg)
	}
	if weight < 1 || weight > maxWeight {
		return Target{}, fmt.Errorf("weight must be from 1 to %d, got %d", maxWeight, weight)
	}
	t := Target{URL: url, Weight: weight, Protocol: ProtocolH1, Scheme: scheme, Host: host}
	if scheme == SchemeH2C {
		t.Protocol = ProtocolH2
	}
	return t, nil
}

// parseTarget checks a target URL and returns its scheme and host:port with the port made
// explicit.
func parseTarget(raw string) (scheme, host, msg string) {
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return "", "", fmt.Sprintf("invalid url %q: write scheme://host:port, like http://127.0.0.1:9000", raw)
	}
	scheme = strings.ToLower(u.Scheme)
	var defPort string
	switch scheme {
	case SchemeHTTP, SchemeH2C:
		defPort = "80"
	case SchemeHTTPS:
		defPort = "443"
	case SchemeTCP, SchemeUDP:
		// No default: a tcp or udp service has no conventional port to assume.
	case "":
		return "", "", fmt.Sprintf("invalid url %q: missing scheme, write http://, https:// or h2c:// (tcp:// or udp:// for tcp and udp listeners)", raw)
	default:
		return "", "", fmt.Sprintf("invalid url %q: unsupported scheme %q, use http, https or h2c", raw, u.Scheme)
	}
	hostname := u.Hostname()
	switch {
	case hostname == "":
		return "", "", fmt.Sprintf("invalid url %q: missing host", raw)
	case !validHost(hostname):
		return "", "", fmt.Sprintf("invalid url %q: %q is neither an IP address nor a host name", raw, hostname)
	case u.User != nil:
		return "", "", fmt.Sprintf("invalid url %q: user info is not supported; set an Authorization header with request_headers instead", raw)
	case u.Path != "" && u.Path != "/":
		return "", "", fmt.Sprintf("invalid url %q: a target has no path (aya forwards the request path; use a route's strip_prefix to change it)", raw)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", "", fmt.Sprintf("invalid url %q: a target has no query or fragment", raw)
	}
	port := u.Port()
	if port == "" {
		if strings.HasSuffix(u.Host, ":") {
			return "", "", fmt.Sprintf("invalid url %q: empty port", raw)
		}
		if defPort == "" {
			return "", "", fmt.Sprintf("invalid url %q: a %s target needs a port, like %s://127.0.0.1:5432", raw, scheme, scheme)
		}
		port = defPort
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", "", fmt.Sprintf("invalid url %q: port must be a number from 1 to 65535", raw)
	}
	return scheme, net.JoinHostPort(hostname, port), ""
}

func (v *validator) upstreamTLS(t *UpstreamTLS, path, ctx string) {
	if t.CA != "" {
		t.CA = v.resolvePath(t.CA)
		if err := loadCAs(t.CA); err != nil {
			v.errAt(path+".ca", t.Line, "%s: ca: %v", ctx, err)
		}
	}
	if t.ServerName != "" && !validHost(t.ServerName) {
		v.errAt(path+".server_name", t.Line, "%s: server_name %q is not a host name", ctx, t.ServerName)
	}
	t.Cert, t.Key = v.resolvePath(t.Cert), v.resolvePath(t.Key)
	switch {
	case t.Cert == "" && t.Key == "":
	case t.Cert == "":
		v.errAt(path+".key", t.Line, "%s: key without cert: client authentication needs both", ctx)
	case t.Key == "":
		v.errAt(path+".cert", t.Line, "%s: cert without key: client authentication needs both", ctx)
	default:
		if err := loadKeyPair(t.Cert, t.Key); err != nil {
			v.errAt(path+".cert", t.Line, "%s: %v", ctx, err)
		}
	}
}
