package config

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// AuthPolicy identifies the caller (api_key, basic, jwt, oauth2 introspection). The methods are
// tried in that order; the first that finds a credential in the request decides.
type AuthPolicy struct {
	APIKey *APIKeyAuth `yaml:"api_key"`
	Basic  *BasicAuth  `yaml:"basic"`
	JWT    *JWTAuth    `yaml:"jwt"`
	OAuth2 *OAuth2Auth `yaml:"oauth2"`
	// Optional lets requests without any credential through as anonymous. A credential that
	// is present but wrong is still refused.
	Optional bool `yaml:"optional"`
	// HideCredentials removes the credential (the key's header or query parameter, the
	// Authorization header) before the request goes upstream.
	HideCredentials bool `yaml:"hide_credentials"`
}

// APIKeyAuth reads a consumer's API key from a header or a query parameter.
type APIKeyAuth struct {
	Header string `yaml:"header" default:"X-API-Key"`
	Query  string `yaml:"query"` // "": keys in the query are not looked at
}

// BasicAuth checks HTTP Basic credentials against consumers' bcrypt password hashes.
type BasicAuth struct {
	Realm string `yaml:"realm" default:"aya"`
}

// JWTAuth verifies bearer JWTs with a shared secret (HS*), a public key file (RS*, PS*, ES*,
// EdDSA) or keys fetched from a JWKS URL.
type JWTAuth struct {
	Secret    string `yaml:"secret" secret:"true"`
	PublicKey string `yaml:"public_key"` // PEM file: PKIX public key or certificate
	JWKSURL   string `yaml:"jwks_url"`
	// JWKSRefresh is how often the key set is fetched again; a token signed with a key id the
	// set does not hold also triggers a fetch (at most one every 2s).
	JWKSRefresh  Duration `yaml:"jwks_refresh" default:"10m"`
	FetchTimeout Duration `yaml:"fetch_timeout" default:"5s"`
	Issuer       string   `yaml:"issuer"`
	// Audience: the token's aud must hold one of these.
	Audience Audiences `yaml:"audience"`
	// Leeway tolerates clock skew on exp, nbf and iat.
	Leeway Duration `yaml:"leeway" default:"30s"`
	// Algorithms accepted; empty: every algorithm the configured keys can verify.
	Algorithms []string `yaml:"algorithms"`
	// ClaimsToHeaders copies claims to upstream request headers (claim → header name).
	ClaimsToHeaders map[string]string `yaml:"claims_to_headers"`
	// ConsumerClaim names the claim whose value names the caller when no consumer's jwt:
	// match fits the token.
	ConsumerClaim string `yaml:"consumer_claim" default:"sub"`
}

// Audiences is a list of audiences; one may be written without brackets.
type Audiences []string

func (Audiences) oneIsList() {}

// OAuth2Auth checks opaque bearer tokens with an RFC 7662 introspection endpoint.
type OAuth2Auth struct {
	IntrospectionURL string   `yaml:"introspection_url"`
	ClientID         string   `yaml:"client_id"`
	ClientSecret     string   `yaml:"client_secret" secret:"true"`
	CacheTTL         Duration `yaml:"cache_ttl" default:"60s"`
	Timeout          Duration `yaml:"timeout" default:"5s"`
	// ConsumerClaim names the caller when no consumer's jwt: match fits; client_id is used
	// when the response lacks it.
	ConsumerClaim   string            `yaml:"consumer_claim" default:"sub"`
	ClaimsToHeaders map[string]string `yaml:"claims_to_headers"`
}

// ACLPolicy admits or refuses consumers by group or name.
type ACLPolicy struct {
	AllowGroups    []string `yaml:"allow_groups"`
	DenyGroups     []string `yaml:"deny_groups"`
	AllowConsumers []string `yaml:"allow_consumers"`
}

// Consumer is one caller known to aya, with its credentials and groups.
type Consumer struct {
	Line int `yaml:"-"`

	Name     string            `yaml:"name"`
	Tenant   string            `yaml:"tenant"`
	Groups   []string          `yaml:"groups"`
	Metadata map[string]string `yaml:"metadata"`
	// APIKeys are the consumer's keys in clear (write them as ${ENV}); aya keeps only their
	// SHA-256 once loaded.
	APIKeys []string       `yaml:"api_keys" secret:"true"`
	Basic   *ConsumerBasic `yaml:"basic"`
	JWT     *ConsumerJWT   `yaml:"jwt"`
}

// ConsumerBasic is a consumer's HTTP Basic login.
type ConsumerBasic struct {
	Username     string `yaml:"username"`
	PasswordHash string `yaml:"password_hash" secret:"true"` // bcrypt ($2a$, $2b$ or $2y$)
}

// ConsumerJWT says which verified tokens belong to the consumer: those whose sub is Subject,
// or whose Claim is Value.
type ConsumerJWT struct {
	Subject string `yaml:"subject"`
	Claim   string `yaml:"claim"`
	Value   string `yaml:"value"`
}

// Match returns the claim and value a token must carry to be this consumer's.
func (j *ConsumerJWT) Match() (claim, value string) {
	if j.Subject != "" {
		return "sub", j.Subject
	}
	return j.Claim, j.Value
}

// API groups routes under one name that consumers subscribe to.
type API struct {
	Line int `yaml:"-"`

	Name   string   `yaml:"name"`
	Routes []string `yaml:"routes"`
	// SubscriptionRequired: only consumers with an approved subscription call these routes.
	SubscriptionRequired bool `yaml:"subscription_required"`
}

// Subscription lets a consumer call an API.
type Subscription struct {
	Line int `yaml:"-"`

	Consumer string `yaml:"consumer"`
	API      string `yaml:"api"`
	Status   string `yaml:"status" default:"approved"` // approved, pending or revoked
}

// Subscription statuses.
var subscriptionStatuses = []string{"approved", "pending", "revoked"}

// jwtAlgorithms are the JWS algorithms aya verifies ("none" is never accepted).
var jwtAlgorithms = []string{"HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// minAPIKey and minJWTSecret keep guessable credentials out of a config.
const (
	minAPIKey    = 8
	minJWTSecret = 32
)

func (v *validator) authPolicy(cfg *Config, p *AuthPolicy, path, ctx string, line int) {
	if p.APIKey == nil && p.Basic == nil && p.JWT == nil && p.OAuth2 == nil {
		v.errAt(path, line, "%s: name at least one method: api_key, basic, jwt or oauth2", ctx)
		return
	}
	if k := p.APIKey; k != nil {
		if !isToken(k.Header) {
			v.errAt(path+".api_key.header", line, "%s: api_key.header %q is not a valid header name", ctx, k.Header)
		}
	}
	if b := p.Basic; b != nil && strings.ContainsAny(b.Realm, "\"\\\r\n") {
		v.errAt(path+".basic.realm", line, "%s: basic.realm must not contain quotes, backslashes or line breaks", ctx)
	}
	if j := p.JWT; j != nil {
		v.jwtAuth(j, path+".jwt", ctx+" jwt", line)
	}
	if o := p.OAuth2; o != nil {
		op, octx := path+".oauth2", ctx+" oauth2"
		v.httpURL(o.IntrospectionURL, op+".introspection_url", octx, "introspection_url", line)
		if o.ClientID == "" {
			v.errAt(op+".client_id", line, "%s: client_id is required: the client aya authenticates as at the introspection endpoint", octx)
		}
		if o.CacheTTL.D() < 0 {
			v.errAt(op+".cache_ttl", line, "%s: cache_ttl must not be negative (0 turns the cache off)", octx)
		}
		if o.Timeout.D() <= 0 {
			v.errAt(op+".timeout", line, "%s: timeout must be above 0, like 5s", octx)
		}
		if o.ConsumerClaim == "" {
			v.errAt(op+".consumer_claim", line, "%s: consumer_claim must name a claim, like sub or client_id", octx)
		}
		v.claimHeaders(o.ClaimsToHeaders, op+".claims_to_headers", octx, line)
	}
}

func (v *validator) jwtAuth(j *JWTAuth, path, ctx string, line int) {
	if j.Secret == "" && j.PublicKey == "" && j.JWKSURL == "" {
		v.errAt(path, line, "%s: name the verification key: secret (HS*), public_key (a PEM file) or jwks_url", ctx)
	}
	if j.Secret != "" && len(j.Secret) < minJWTSecret {
		v.errAt(path+".secret", line, "%s: secret is %d bytes: use at least %d random bytes (openssl rand -base64 32)", ctx, len(j.Secret), minJWTSecret)
	}
	if j.PublicKey != "" {
		j.PublicKey = v.resolvePath(j.PublicKey)
	}
	if j.JWKSURL != "" {
		v.httpURL(j.JWKSURL, path+".jwks_url", ctx, "jwks_url", line)
	}
	if j.JWKSRefresh.D() < 1e9 {
		v.errAt(path+".jwks_refresh", line, "%s: jwks_refresh must be at least 1s, got %v", ctx, j.JWKSRefresh)
	}
	if j.FetchTimeout.D() <= 0 {
		v.errAt(path+".fetch_timeout", line, "%s: fetch_timeout must be above 0, like 5s", ctx)
	}
	if j.Leeway.D() < 0 {
		v.errAt(path+".leeway", line, "%s: leeway must not be negative", ctx)
	}
	for i, a := range j.Algorithms {
		ap := fmt.Sprintf("%s.algorithms[%d]", path, i)
		switch {
		case strings.EqualFold(a, "none"):
			v.errAt(ap, line, "%s: algorithm none accepts unsigned tokens: remove it", ctx)
		case !slices.Contains(jwtAlgorithms, a):
			v.errAt(ap, line, "%s: unknown algorithm %q: use %s%s", ctx, a, strings.Join(jwtAlgorithms, ", "), didYouMean(a, jwtAlgorithms))
		case strings.HasPrefix(a, "HS") && j.Secret == "":
			v.errAt(ap, line, "%s: algorithm %s needs a secret", ctx, a)
		case !strings.HasPrefix(a, "HS") && j.PublicKey == "" && j.JWKSURL == "":
			v.errAt(ap, line, "%s: algorithm %s needs public_key or jwks_url", ctx, a)
		}
	}
	if j.ConsumerClaim == "" {
		v.errAt(path+".consumer_claim", line, "%s: consumer_claim must name a claim, like sub", ctx)
	}
	v.claimHeaders(j.ClaimsToHeaders, path+".claims_to_headers", ctx, line)
}

func (v *validator) claimHeaders(m map[string]string, path, ctx string, line int) {
	for claim, h := range m {
		if !isToken(h) {
			v.errAt(path+"."+claim, line, "%s: claims_to_headers: %q is not a valid header name", ctx, h)
		}
	}
}

// httpURL checks that s is an absolute http or https URL.
func (v *validator) httpURL(s, path, ctx, key string, line int) {
	u, err := url.Parse(s)
	if s == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errAt(path, line, "%s: %s %q: write an absolute http:// or https:// URL", ctx, key, s)
	}
}

func (v *validator) aclPolicy(cfg *Config, p *ACLPolicy, path, ctx string, line int) {
	if len(p.AllowGroups) == 0 && len(p.DenyGroups) == 0 && len(p.AllowConsumers) == 0 {
		v.errAt(path, line, "%s: list allow_groups, deny_groups or allow_consumers", ctx)
	}
	for i, g := range slices.Concat(p.AllowGroups, p.DenyGroups) {
		if g == "" {
			v.errAt(path, line, "%s: group #%d is empty", ctx, i+1)
		}
	}
}

// consumers validates consumers, apis and subscriptions.
func (v *validator) consumers(cfg *Config) {
	names := map[string]int{}
	keys := map[string]string{}  // key → consumer, to refuse a key given to two consumers
	users := map[string]string{} // basic username → consumer
	for i := range cfg.Consumers {
		c := &cfg.Consumers[i]
		path := fmt.Sprintf("consumers[%d]", i)
		if v.bad[path] {
			continue
		}
		v.name("consumer", c.Name, i, path, c.Line, names)
		ctx := objName("consumer", c.Name, i)
		if c.Tenant != "" && !validName(c.Tenant) {
			v.errAt(path+".tenant", c.Line, "%s: invalid tenant: use letters, digits, '-', '_' and '.'", ctx)
		}
		for j, k := range c.APIKeys {
			kp := fmt.Sprintf("%s.api_keys[%d]", path, j)
			// the key itself never goes into a message: it may be a real secret
			switch other, dup := keys[k]; {
			case len(k) < minAPIKey:
				v.errAt(kp, c.Line, "%s: api_keys[%d] is shorter than %d characters: use a long random key (openssl rand -hex 24)", ctx, j, minAPIKey)
			case dup:
				v.errAt(kp, c.Line, "%s: api_keys[%d] is also a key of consumer %q: every key must name one consumer", ctx, j, other)
			default:
				keys[k] = c.Name
			}
		}
		if b := c.Basic; b != nil {
			bp := path + ".basic"
			switch other, dup := users[b.Username]; {
			case b.Username == "" || strings.Contains(b.Username, ":"):
				v.errAt(bp+".username", c.Line, "%s: basic.username is required and must not contain ':'", ctx)
			case dup:
				v.errAt(bp+".username", c.Line, "%s: basic.username %q is also consumer %q's", ctx, b.Username, other)
			default:
				users[b.Username] = c.Name
			}
			if !isBcrypt(b.PasswordHash) {
				v.errAt(bp+".password_hash", c.Line, "%s: basic.password_hash must be a bcrypt hash ($2y$...): make one with htpasswd -nbBC 10 USER PASSWORD", ctx)
			}
		}
		if j := c.JWT; j != nil {
			jp := path + ".jwt"
			switch {
			case j.Subject != "" && (j.Claim != "" || j.Value != ""):
				v.errAt(jp, c.Line, "%s: jwt: write subject, or claim and value, not both", ctx)
			case j.Subject == "" && (j.Claim == "" || j.Value == ""):
				v.errAt(jp, c.Line, "%s: jwt: write subject: SUB, or claim: NAME with value: VALUE", ctx)
			}
		}
	}
	v.apis(cfg)
	v.subscriptions(cfg, names)
	v.aclNeedsAuth(cfg)
}

// aclNeedsAuth refuses an acl that no auth policy runs before: it would refuse every request.
func (v *validator) aclNeedsAuth(cfg *Config) {
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		before := *rc
		for j, p := range rc.Policies {
			if p.ACL == nil {
				continue
			}
			before.Policies = rc.Policies[:j]
			if !routeHasAuth(cfg, &before) {
				path := fmt.Sprintf("routes[%d].policies[%d].acl", i, j)
				v.errAt(path, p.Line, "route %q acl: no auth policy runs before it, so it would refuse every request: put an auth policy first", rc.Name)
			}
		}
	}
}

// isBcrypt reports whether s looks like a bcrypt hash: $2a$, $2b$ or $2y$, a two-digit cost,
// then 53 characters of salt and hash.
func isBcrypt(s string) bool {
	if len(s) != 60 || s[0] != '$' || s[1] != '2' || s[3] != '$' || s[6] != '$' {
		return false
	}
	return strings.IndexByte("aby", s[2]) >= 0 && s[4] >= '0' && s[4] <= '3' && s[5] >= '0' && s[5] <= '9'
}

func (v *validator) apis(cfg *Config) {
	names := map[string]int{}
	routes := map[string]*Route{}
	for i := range cfg.Routes {
		routes[cfg.Routes[i].Name] = &cfg.Routes[i]
	}
	inAPI := map[string]string{} // route → api
	for i := range cfg.APIs {
		a := &cfg.APIs[i]
		path := fmt.Sprintf("apis[%d]", i)
		if v.bad[path] {
			continue
		}
		v.name("api", a.Name, i, path, a.Line, names)
		ctx := objName("api", a.Name, i)
		if len(a.Routes) == 0 {
			v.errAt(path+".routes", a.Line, "%s: routes: list the names of the routes this API groups", ctx)
		}
		for j, rn := range a.Routes {
			rp := fmt.Sprintf("%s.routes[%d]", path, j)
			rc, ok := routes[rn]
			if !ok {
				v.errAt(rp, a.Line, "%s: unknown route %q%s", ctx, rn, didYouMean(rn, routeNames(cfg)))
				continue
			}
			if other, dup := inAPI[rn]; dup {
				v.errAt(rp, a.Line, "%s: route %q is already in api %q: a route belongs to one API", ctx, rn, other)
				continue
			}
			inAPI[rn] = a.Name
			if a.SubscriptionRequired && !routeHasAuth(cfg, rc) {
				v.errAt(rp, a.Line, "%s: route %q needs an auth policy: subscriptions are checked against the authenticated consumer", ctx, rn)
			}
		}
	}
}

func routeNames(cfg *Config) []string {
	out := make([]string, len(cfg.Routes))
	for i := range cfg.Routes {
		out[i] = cfg.Routes[i].Name
	}
	return out
}

// routeHasAuth reports whether a route's own policies or its listeners' defaults authenticate.
func routeHasAuth(cfg *Config, rc *Route) bool {
	has := func(list []Policy) bool {
		return slices.ContainsFunc(list, func(p Policy) bool { return p.Auth != nil })
	}
	if has(rc.Policies) {
		return true
	}
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		if (len(rc.Listeners) == 0 || slices.Contains(rc.Listeners, l.Name)) && has(l.Policies) {
			return true
		}
	}
	return false
}

func (v *validator) subscriptions(cfg *Config, consumers map[string]int) {
	apis := map[string]bool{}
	for _, a := range cfg.APIs {
		apis[a.Name] = true
	}
	seen := map[[2]string]int{}
	for i := range cfg.Subscriptions {
		s := &cfg.Subscriptions[i]
		path := fmt.Sprintf("subscriptions[%d]", i)
		if v.bad[path] {
			continue
		}
		ctx := fmt.Sprintf("subscription #%d", i+1)
		if _, ok := consumers[s.Consumer]; !ok {
			v.errAt(path+".consumer", s.Line, "%s: unknown consumer %q: define it under consumers", ctx, s.Consumer)
		}
		if !apis[s.API] {
			v.errAt(path+".api", s.Line, "%s: unknown api %q: define it under apis", ctx, s.API)
		}
		if !slices.Contains(subscriptionStatuses, s.Status) {
			v.errAt(path+".status", s.Line, "%s: status %q: use approved, pending or revoked", ctx, s.Status)
		}
		k := [2]string{s.Consumer, s.API}
		if first, dup := seen[k]; dup {
			v.errAt(path, s.Line, "%s: consumer %q already has a subscription to %q (line %d)", ctx, s.Consumer, s.API, first)
		}
		seen[k] = s.Line
	}
}
