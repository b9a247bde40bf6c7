package config

import (
	"fmt"
	"strings"
)

// Policy is one entry of a route's (or a listener's) policies list: a map with exactly one key
// naming the policy, whose value is that policy's options. Policies run in the order listed.
type Policy struct {
	Line int `yaml:"-"`

	Auth          *AuthPolicy          `yaml:"auth"`
	ACL           *ACLPolicy           `yaml:"acl"`
	RateLimit     *RateLimitPolicy     `yaml:"rate_limit"`
	Transform     *TransformPolicy     `yaml:"transform"`
	Rewrite       *RewritePolicy       `yaml:"rewrite"`
	Redirect      *RedirectPolicy      `yaml:"redirect"`
	Static        *StaticPolicy        `yaml:"static"`
	Aggregate     *AggregatePolicy     `yaml:"aggregate"`
	Canary        *CanaryPolicy        `yaml:"canary"`
	Mirror        *MirrorPolicy        `yaml:"mirror"`
	Cache         *CachePolicy         `yaml:"cache"`
	Compress      *CompressPolicy      `yaml:"compress"`
	CORS          *CORSPolicy          `yaml:"cors"`
	IPFilter      *IPFilterPolicy      `yaml:"ip_filter"`
	RequestLimits *RequestLimitsPolicy `yaml:"request_limits"`
}

// Kind is the policy's key ("auth", "rate_limit", ...), or "" when none is set.
func (p *Policy) Kind() string {
	kinds := p.kinds()
	if len(kinds) == 0 {
		return ""
	}
	return kinds[0]
}

func (p *Policy) kinds() []string {
	var ks []string
	add := func(set bool, k string) {
		if set {
			ks = append(ks, k)
		}
	}
	add(p.Auth != nil, "auth")
	add(p.ACL != nil, "acl")
	add(p.RateLimit != nil, "rate_limit")
	add(p.Transform != nil, "transform")
	add(p.Rewrite != nil, "rewrite")
	add(p.Redirect != nil, "redirect")
	add(p.Static != nil, "static")
	add(p.Aggregate != nil, "aggregate")
	add(p.Canary != nil, "canary")
	add(p.Mirror != nil, "mirror")
	add(p.Cache != nil, "cache")
	add(p.Compress != nil, "compress")
	add(p.CORS != nil, "cors")
	add(p.IPFilter != nil, "ip_filter")
	add(p.RequestLimits != nil, "request_limits")
	return ks
}

// policyKinds lists every policy key, for error messages.
const policyKinds = "auth, acl, rate_limit, transform, rewrite, redirect, static, aggregate, canary, mirror, cache, compress, cors, ip_filter, request_limits"

// Terminal reports whether the policy always answers itself, so that the route needs no
// upstream after it (a static response, an unconditional redirect, an aggregation).
func (p *Policy) Terminal() bool {
	switch {
	case p.Static != nil, p.Aggregate != nil:
		return true
	case p.Redirect != nil:
		return p.Redirect.terminal()
	}
	return false
}

// policies validates a policies list at path (routes[3].policies or listeners[0].policies).
// route is nil for a listener's defaults.
func (v *validator) policies(cfg *Config, list []Policy, path, ctx string, line int, route *Route) {
	for i := range list {
		p := &list[i]
		pp := fmt.Sprintf("%s.policies[%d]", path, i)
		if v.bad[pp] {
			continue
		}
		pl := v.line(pp, line)
		if p.Line == 0 {
			p.Line = pl
		}
		kinds := p.kinds()
		switch len(kinds) {
		case 0:
			v.errAt(pp, pl, "%s: policies[%d] names no policy: write one of %s", ctx, i, policyKinds)
			continue
		case 1:
		default:
			v.errAt(pp, pl, "%s: policies[%d] names %s: write each policy as its own list entry (- %s: {...})", ctx, i, strings.Join(kinds, " and "), kinds[1])
			continue
		}
		kp := pp + "." + kinds[0]
		kctx := ctx + " " + kinds[0]
		kl := v.line(kp, pl)
		switch {
		case p.Auth != nil:
			v.authPolicy(cfg, p.Auth, kp, kctx, kl)
		case p.ACL != nil:
			v.aclPolicy(cfg, p.ACL, kp, kctx, kl)
		case p.RateLimit != nil:
			v.rateLimitPolicy(cfg, p.RateLimit, kp, kctx, kl)
		case p.Transform != nil:
			v.transformPolicy(cfg, p.Transform, kp, kctx, kl)
		case p.Rewrite != nil:
			v.rewritePolicy(cfg, p.Rewrite, kp, kctx, kl)
		case p.Redirect != nil:
			v.redirectPolicy(cfg, p.Redirect, kp, kctx, kl)
		case p.Static != nil:
			v.staticPolicy(cfg, p.Static, kp, kctx, kl)
		case p.Aggregate != nil:
			v.aggregatePolicy(cfg, p.Aggregate, kp, kctx, kl)
		case p.Canary != nil:
			v.canaryPolicy(cfg, p.Canary, kp, kctx, kl, route)
		case p.Mirror != nil:
			v.mirrorPolicy(cfg, p.Mirror, kp, kctx, kl)
		case p.Cache != nil:
			v.cachePolicy(cfg, p.Cache, kp, kctx, kl)
		case p.Compress != nil:
			v.compressPolicy(cfg, p.Compress, kp, kctx, kl)
		case p.CORS != nil:
			v.corsPolicy(cfg, p.CORS, kp, kctx, kl)
		case p.IPFilter != nil:
			v.ipFilterPolicy(cfg, p.IPFilter, kp, kctx, kl)
		case p.RequestLimits != nil:
			v.requestLimitsPolicy(cfg, p.RequestLimits, kp, kctx, kl)
		}
		if route == nil && p.Terminal() {
			v.errAt(kp, kl, "%s: a listener's default policies cannot answer every request themselves (%s); put it on a route", ctx, kinds[0])
		}
	}
}

// terminalPolicy reports whether a route's policies answer every request themselves, so the
// route may leave out upstream.
func terminalPolicy(list []Policy) bool {
	for i := range list {
		if list[i].Terminal() {
			return true
		}
	}
	return false
}
