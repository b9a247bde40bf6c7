package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"time"

	"aya/internal/config"
	"aya/internal/policy"
	"aya/internal/policy/acl"
	authpol "aya/internal/policy/auth"
	"aya/internal/policy/consumer"
)

// maxViews bounds the memo of consumer views by config: the live config's and a few that
// reloads retired (their snapshots may still finish requests).
const maxViews = 4

// authState keeps consumers and subscriptions added through the admin API across reloads, the
// consumer view of each config, and the JWKS fetchers routes share (by URL and settings, so a
// reload keeps the keys it already has instead of fetching again).
type authState struct {
	log *slog.Logger
	reg *consumer.Registry

	mu    sync.Mutex
	views []cfgView
	jwks  map[jwksSpec]*jwksRef
}

type cfgView struct {
	cfg  *config.Config
	view *consumer.View
}

type jwksSpec struct {
	url              string
	refresh, timeout time.Duration
}

type jwksRef struct {
	set  *authpol.JWKS
	refs int
}

func (a *authState) init(log *slog.Logger) {
	a.log = log
	a.jwks = map[jwksSpec]*jwksRef{}
	// The memory store cannot fail to load; a durable store would be opened here and its
	// error returned by the gateway's constructor.
	a.reg, _ = consumer.NewRegistry(context.Background(), &consumer.Memory{})
}

func (a *authState) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for k, r := range a.jwks {
		r.set.Close()
		delete(a.jwks, k)
	}
}

// view returns the consumers of cfg with the admin API's over them, built once per config.
func (a *authState) view(cfg *config.Config) (*consumer.View, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, v := range a.views {
		if v.cfg == cfg {
			return v.view, nil
		}
	}
	specs := make([]consumer.Spec, len(cfg.Consumers))
	for i := range cfg.Consumers {
		specs[i] = consumerSpec(&cfg.Consumers[i])
	}
	dir, err := consumer.NewDirectory(specs)
	if err != nil {
		return nil, fmt.Errorf("%s: consumers: %w", cfg.File, err)
	}
	subs := make([]consumer.Subscription, len(cfg.Subscriptions))
	for i, s := range cfg.Subscriptions {
		subs[i] = consumer.Subscription{Consumer: s.Consumer, API: s.API, Status: consumer.Status(s.Status), Source: "config"}
	}
	v := consumer.NewView(dir, consumer.NewSubscriptions(subs), a.reg)
	a.views = append(a.views, cfgView{cfg, v})
	if len(a.views) > maxViews {
		a.views = slices.Delete(a.views, 0, 1)
	}
	return v, nil
}

// consumerSpec turns a config consumer into the registry's form; keys are hashed here and
// their clear text is not kept by anything aya builds.
func consumerSpec(c *config.Consumer) consumer.Spec {
	s := consumer.Spec{Name: c.Name, Tenant: c.Tenant, Groups: c.Groups, Metadata: c.Metadata}
	for _, k := range c.APIKeys {
		s.Keys = append(s.Keys, consumer.Hash(k))
	}
	if b := c.Basic; b != nil {
		s.BasicUser, s.BasicHash = b.Username, b.PasswordHash
	}
	if j := c.JWT; j != nil {
		claim, value := j.Match()
		s.Claims = []consumer.Claim{{Name: claim, Value: value}}
	}
	return s
}

// jwksSet returns the shared fetcher of spec and the function that releases this use of it.
func (a *authState) jwksSet(spec jwksSpec) (*authpol.JWKS, func()) {
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.jwks[spec]
	if !ok {
		r = &jwksRef{set: authpol.NewJWKS(authpol.JWKSOptions{URL: spec.url, Refresh: spec.refresh, FetchTimeout: spec.timeout, Log: a.log})}
		a.jwks[spec] = r
	}
	r.refs++
	var once sync.Once
	return r.set, func() {
		once.Do(func() {
			a.mu.Lock()
			defer a.mu.Unlock()
			if r.refs--; r.refs == 0 && a.jwks[spec] == r {
				delete(a.jwks, spec)
				r.set.Close()
			}
		})
	}
}

func (b *policyBuild) auth(c *config.AuthPolicy) (policy.Middleware, error) {
	view, err := b.state.auth.view(b.cfg)
	if err != nil {
		return nil, err
	}
	o, err := b.authOptions(c)
	if err != nil {
		return nil, err
	}
	o.Consumers = view
	o.API = subscriptionAPI(b.cfg, b.route.Name)
	return authpol.New(o)
}

// authOptions turns the config into the auth package's options (without the consumer view).
func (b *policyBuild) authOptions(c *config.AuthPolicy) (authpol.Options, error) {
	o := authpol.Options{Optional: c.Optional, HideCredentials: c.HideCredentials, Log: b.log}
	if k := c.APIKey; k != nil {
		o.APIKey = &authpol.APIKey{Header: k.Header, Query: k.Query}
	}
	if bc := c.Basic; bc != nil {
		o.Basic = &authpol.Basic{Realm: bc.Realm}
	}
	if j := c.JWT; j != nil {
		jo := &authpol.JWT{Issuer: j.Issuer, Audience: j.Audience, Leeway: j.Leeway.D(), Algorithms: j.Algorithms,
			ClaimsToHeaders: j.ClaimsToHeaders, ConsumerClaim: j.ConsumerClaim}
		if j.Secret != "" {
			jo.Secret = []byte(j.Secret)
		}
		if j.PublicKey != "" {
			data, err := os.ReadFile(j.PublicKey)
			if err != nil {
				return o, fmt.Errorf("jwt.public_key: %w", err)
			}
			key, err := authpol.ParsePublicKey(data)
			if err != nil {
				return o, fmt.Errorf("jwt.public_key %s: %w", j.PublicKey, err)
			}
			jo.PublicKeys = append(jo.PublicKeys, key)
		}
		if j.JWKSURL != "" {
			set, release := b.state.auth.jwksSet(jwksSpec{j.JWKSURL, j.JWKSRefresh.D(), j.FetchTimeout.D()})
			b.onClose(release)
			jo.JWKS = set
		}
		o.JWT = jo
	}
	if oc := c.OAuth2; oc != nil {
		o.OAuth2 = &authpol.OAuth2{URL: oc.IntrospectionURL, ClientID: oc.ClientID, ClientSecret: oc.ClientSecret,
			CacheTTL: oc.CacheTTL.D(), Timeout: oc.Timeout.D(), ConsumerClaim: oc.ConsumerClaim,
			ClaimsToHeaders: oc.ClaimsToHeaders, Log: b.log}
	}
	return o, nil
}

// subscriptionAPI is the API a route belongs to when that API requires a subscription.
func subscriptionAPI(cfg *config.Config, routeName string) string {
	for _, a := range cfg.APIs {
		if a.SubscriptionRequired && slices.Contains(a.Routes, routeName) {
			return a.Name
		}
	}
	return ""
}

func (b *policyBuild) acl(c *config.ACLPolicy) (policy.Middleware, error) {
	return acl.New(acl.Options{
		AllowGroups:    c.AllowGroups,
		DenyGroups:     c.DenyGroups,
		AllowConsumers: c.AllowConsumers,
		Challenge:      b.routeChallenge(),
	}), nil
}

// routeChallenge is the WWW-Authenticate of the auth policy that serves the route (its own,
// else a listener default), so an acl can answer an anonymous caller with a proper 401.
func (b *policyBuild) routeChallenge() []string {
	lists := [][]config.Policy{b.route.Policies}
	for _, l := range b.cfg.Listeners {
		if slices.Contains(b.route.Listeners, l.Name) {
			lists = append(lists, l.Policies)
		}
	}
	for _, list := range lists {
		for i := range list {
			if a := list[i].Auth; a != nil {
				o := authpol.Options{Optional: a.Optional}
				if a.APIKey != nil {
					o.APIKey = &authpol.APIKey{Header: a.APIKey.Header}
				}
				if a.Basic != nil {
					o.Basic = &authpol.Basic{Realm: a.Basic.Realm}
				}
				if a.JWT != nil {
					o.JWT = &authpol.JWT{}
				}
				if a.OAuth2 != nil {
					o.OAuth2 = &authpol.OAuth2{}
				}
				return authpol.Challenge(o)
			}
		}
	}
	return []string{`Bearer realm="aya"`}
}
