package config

import (
	"fmt"
	"os"
	"slices"
	"strings"
)

// CanaryPolicy splits a route's traffic between its upstream and others.
type CanaryPolicy struct {
	// Upstreams are the canaries with their shares; the route's own upstream gets the rest.
	Upstreams []CanaryUpstream `yaml:"upstreams"`
	// Header and Cookie force a branch for requests that carry them.
	Header *CanaryOverride `yaml:"header"`
	Cookie *CanaryOverride `yaml:"cookie"`
	// Sticky keeps a client on the branch it first got; nil: every request is picked anew.
	Sticky *CanarySticky `yaml:"sticky"`
	// Expose adds X-Aya-Canary: <upstream> to responses.
	Expose bool `yaml:"expose"`
}

// CanaryUpstream is one canary branch.
type CanaryUpstream struct {
	Line int `yaml:"-"`

	Name   string `yaml:"name"`
	Weight Ratio  `yaml:"weight"`
}

// CanaryOverride forces a branch by a header or cookie.
type CanaryOverride struct {
	Name string `yaml:"name"`
	// Value forces Upstream when the header or cookie has it; empty: the value itself names
	// the branch (the route's upstream or a canary).
	Value string `yaml:"value"`
	// Upstream is the branch Value forces; empty: the first canary.
	Upstream string `yaml:"upstream"`
}

// Sticky modes of a canary.
const (
	CanaryStickyCookie = "cookie"
	CanaryStickyIP     = "ip"
)

// CanarySticky says how a client keeps its branch.
type CanarySticky struct {
	// By is "cookie" (aya sets Cookie naming the branch) or "ip" (a hash of the client IP).
	By     string   `yaml:"by" default:"cookie"`
	Cookie string   `yaml:"cookie" default:"aya_canary"`
	TTL    Duration `yaml:"ttl" default:"24h"`
	// Secure marks the cookie Secure (send it over HTTPS only).
	Secure bool `yaml:"secure"`
}

// MirrorPolicy copies a share of requests to a shadow upstream.
type MirrorPolicy struct {
	Upstream string `yaml:"upstream"`
	Percent  Ratio  `yaml:"percent" default:"100%"`
	// MaxBody is the largest request body copied; requests with bigger bodies are not mirrored.
	MaxBody     Size     `yaml:"max_body" default:"64KB"`
	Timeout     Duration `yaml:"timeout" default:"2s"`
	MaxInFlight int      `yaml:"max_in_flight" default:"100"`
}

// GeoIP names the MaxMind-format database country matches use.
type GeoIP struct {
	Line int `yaml:"-"`

	// Database is a .mmdb file with country.iso_code records (GeoLite2-Country, GeoIP2-City);
	// relative to the config file's directory. It is read at start and on every reload.
	Database string `yaml:"database"`
}

// canaryPolicy validates a canary split; route is nil on a listener.
func (v *validator) canaryPolicy(cfg *Config, p *CanaryPolicy, path, ctx string, line int, route *Route) {
	if route == nil {
		v.errAt(path, line, "%s: a canary splits a route's own upstream: put it on the routes, not in a listener's policies", ctx)
		return
	}
	if route.Upstream == "" {
		v.errAt(path, line, "%s: a canary splits the route's upstream, and the route has none: set upstream", ctx)
	}
	upstreams := upstreamNames(cfg)
	if len(p.Upstreams) == 0 {
		v.errAt(path+".upstreams", line, "%s: upstreams is required: list the canaries, like [{name: v2, weight: 10%%}]", ctx)
	}
	branches := []string{route.Upstream}
	var sum Ratio
	for i, u := range p.Upstreams {
		up := fmt.Sprintf("%s.upstreams[%d]", path, i)
		ul := v.line(up, line)
		switch {
		case u.Name == "":
			v.errAt(up+".name", ul, "%s: upstreams[%d]: name is required: name a defined upstream", ctx, i)
		case !slices.Contains(upstreams, u.Name):
			v.errAt(up+".name", ul, "%s: upstream %q is not defined%s", ctx, u.Name, didYouMean(u.Name, upstreams))
		case u.Name == route.Upstream:
			v.errAt(up+".name", ul, "%s: upstream %q is the route's own upstream, which gets what the canaries leave; list only the others", ctx, u.Name)
		case slices.Contains(branches, u.Name):
			v.errAt(up+".name", ul, "%s: upstream %q is listed twice", ctx, u.Name)
		}
		branches = append(branches, u.Name)
		if u.Weight > 1 {
			v.errAt(up+".weight", ul, "%s: upstream %q: weight %s is over 100%%", ctx, u.Name, u.Weight)
		}
		sum += u.Weight
	}
	if sum > 1+1e-9 {
		v.errAt(path+".upstreams", line, "%s: the canary weights add up to %.4g%%; lower them so they leave the route's upstream the rest of 100%%", ctx, float64(sum)*100)
	}
	v.canaryOverride(p.Header, path+".header", ctx+" header", line, branches, true)
	v.canaryOverride(p.Cookie, path+".cookie", ctx+" cookie", line, branches, false)
	if s := p.Sticky; s != nil {
		sp := path + ".sticky"
		sl := v.line(sp, line)
		switch s.By {
		case CanaryStickyCookie:
			if !isToken(s.Cookie) {
				v.errAt(sp+".cookie", sl, "%s sticky: cookie %q is not a valid cookie name", ctx, s.Cookie)
			}
		case CanaryStickyIP:
		default:
			v.errAt(sp+".by", sl, "%s sticky: by %q: write cookie or ip", ctx, s.By)
		}
	}
}

func (v *validator) canaryOverride(o *CanaryOverride, path, ctx string, line int, branches []string, header bool) {
	if o == nil {
		return
	}
	l := v.line(path, line)
	kind := "cookie"
	if header {
		kind = "header"
	}
	if !isToken(o.Name) {
		v.errAt(path+".name", l, "%s: name %q is not a valid %s name", ctx, o.Name, kind)
	}
	switch {
	case o.Upstream != "" && o.Value == "":
		v.errAt(path+".upstream", l, "%s: upstream needs value: write the %s value that forces upstream %q", ctx, kind, o.Upstream)
	case o.Upstream != "" && !slices.Contains(branches, o.Upstream):
		v.errAt(path+".upstream", l, "%s: upstream %q is neither the route's upstream nor a canary%s", ctx, o.Upstream, didYouMean(o.Upstream, branches))
	}
}

func (v *validator) mirrorPolicy(cfg *Config, p *MirrorPolicy, path, ctx string, line int) {
	upstreams := upstreamNames(cfg)
	switch {
	case p.Upstream == "":
		v.errAt(path+".upstream", line, "%s: upstream is required: name the shadow upstream the copies go to", ctx)
	case !slices.Contains(upstreams, p.Upstream):
		v.errAt(path+".upstream", line, "%s: upstream %q is not defined%s", ctx, p.Upstream, didYouMean(p.Upstream, upstreams))
	}
	if p.Percent > 1 {
		v.errAt(path+".percent", line, "%s: percent %s is over 100%%", ctx, p.Percent)
	}
	if p.Timeout <= 0 {
		v.errAt(path+".timeout", line, "%s: timeout must be positive, like 2s: a copy must not wait on the shadow forever", ctx)
	}
	if p.MaxInFlight < 1 {
		v.errAt(path+".max_in_flight", line, "%s: max_in_flight must be at least 1", ctx)
	}
}

func upstreamNames(cfg *Config) []string {
	names := make([]string, 0, len(cfg.Upstreams))
	for _, u := range cfg.Upstreams {
		names = append(names, u.Name)
	}
	return names
}

// geoIP validates the top-level geoip: block and the routes' client_ip and country matches.
func (v *validator) geoIP(cfg *Config) {
	if g := cfg.GeoIP; g != nil && !v.bad["geoip"] {
		l := v.line("geoip", g.Line)
		if g.Database == "" {
			v.errAt("geoip.database", l, "geoip: database is required: the path of a MaxMind .mmdb file such as GeoLite2-Country.mmdb")
		} else {
			g.Database = v.resolvePath(g.Database)
			if st, err := os.Stat(g.Database); err != nil {
				v.errAt("geoip.database", l, "geoip: cannot read database: %v", err)
			} else if st.IsDir() {
				v.errAt("geoip.database", l, "geoip: database %s is a directory: name the .mmdb file in it", g.Database)
			}
		}
	}
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		mp := fmt.Sprintf("routes[%d].match", i)
		if v.bad[fmt.Sprintf("routes[%d]", i)] || len(r.Match.Country) == 0 {
			continue
		}
		ctx := objName("route", r.Name, i) + " match"
		ml := r.Match.Line
		if ml == 0 {
			ml = r.Line
		}
		if cfg.GeoIP == nil {
			v.errAt(mp+".country", ml, "%s: country needs a country database: add geoip: {database: GeoLite2-Country.mmdb} at the top level", ctx)
		}
		for j, c := range r.Match.Country {
			if len(c) != 2 || strings.IndexFunc(c, func(r rune) bool { return !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z') }) >= 0 {
				v.errAt(fmt.Sprintf("%s.country[%d]", mp, j), ml, "%s: country %q is not a country code: write ISO 3166-1 alpha-2 codes like DE or US", ctx, c)
				continue
			}
			r.Match.Country[j] = strings.ToUpper(c)
		}
	}
}
