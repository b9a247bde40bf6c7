package config

import (
	"errors"
	"strings"
	"testing"
)

// authRoute is a config with one route "all" whose policies list is pol (one YAML line each,
// starting at line 7), followed by extra top-level YAML.
func authRoute(extra string, pol ...string) string {
	return okListener + okUpstream + "routes:\n  - name: all\n    upstream: app\n    policies:\n" +
		"      - " + strings.Join(pol, "\n      - ") + "\n" + extra
}

const bcryptHash = "$2y$10$abcdefghijklmnopqrstuuQ6ZQZ8O9v3A3o1xq8mGk7d8Qm1QmE5y"

func TestAuthPoliciesBad(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"auth with no method", authRoute("", "auth: {optional: true}"), []string{
			`7: route "all" auth: name at least one method: api_key, basic, jwt or oauth2`,
		}},
		{"api key header", authRoute("", "auth: {api_key: {header: 'X Key'}}"), []string{
			`7: route "all" auth: api_key.header "X Key" is not a valid header name`,
		}},
		{"jwt without key", authRoute("", "auth: {jwt: {issuer: me}}"), []string{
			`7: route "all" auth jwt: name the verification key: secret (HS*), public_key (a PEM file) or jwks_url`,
		}},
		{"jwt short secret", authRoute("", "auth: {jwt: {secret: short}}"), []string{
			`7: route "all" auth jwt: secret is 5 bytes: use at least 32 random bytes (openssl rand -base64 32)`,
		}},
		{"jwt none and unknown algorithms", authRoute("", "auth: {jwt: {jwks_url: 'https://idp/jwks', algorithms: [none, RS257, HS256]}}"), []string{
			`7: route "all" auth jwt: algorithm none accepts unsigned tokens: remove it`,
			`7: route "all" auth jwt: unknown algorithm "RS257": use HS256, HS384, HS512, RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA (did you mean "RS256"?)`,
			`7: route "all" auth jwt: algorithm HS256 needs a secret`,
		}},
		{"jwt bad jwks", authRoute("", "auth: {jwt: {jwks_url: 'ftp://x', jwks_refresh: 10ms, fetch_timeout: 0s, claims_to_headers: {sub: 'X User'}}}"), []string{
			`7: route "all" auth jwt: jwks_url "ftp://x": write an absolute http:// or https:// URL`,
			`7: route "all" auth jwt: jwks_refresh must be at least 1s, got 10ms`,
			`7: route "all" auth jwt: fetch_timeout must be above 0, like 5s`,
			`7: route "all" auth jwt: claims_to_headers: "X User" is not a valid header name`,
		}},
		{"oauth2", authRoute("", "auth: {oauth2: {introspection_url: '/introspect', timeout: 0s}}"), []string{
			`7: route "all" auth oauth2: introspection_url "/introspect": write an absolute http:// or https:// URL`,
			`7: route "all" auth oauth2: client_id is required: the client aya authenticates as at the introspection endpoint`,
			`7: route "all" auth oauth2: timeout must be above 0, like 5s`,
		}},
		{"acl empty", authRoute("", "auth: {api_key: {}}", "acl: {}"), []string{
			`8: route "all" acl: list allow_groups, deny_groups or allow_consumers`,
		}},
		{"acl before auth", authRoute("", "acl: {allow_groups: [a]}", "auth: {api_key: {}}"), []string{
			`7: route "all" acl: no auth policy runs before it, so it would refuse every request: put an auth policy first`,
		}},
		{"consumers", authRoute(`consumers:
  - {name: alice, api_keys: [alice-key-1]}
  - {name: bob, tenant: "a b", api_keys: [alice-key-1, short]}
  - {name: alice}
  - name: carol
    basic: {username: "c:x", password_hash: plain}
    jwt: {subject: carol, claim: azp}
  - {name: dave, jwt: {claim: azp}}
`, "auth: {api_key: {}}"), []string{
			`10: consumer "bob": invalid tenant: use letters, digits, '-', '_' and '.'`,
			`10: consumer "bob": api_keys[0] is also a key of consumer "alice": every key must name one consumer`,
			`10: consumer "bob": api_keys[1] is shorter than 8 characters: use a long random key (openssl rand -hex 24)`,
			`11: consumer "alice": duplicate name (first defined at line 9)`,
			`13: consumer "carol": basic.username is required and must not contain ':'`,
			`13: consumer "carol": basic.password_hash must be a bcrypt hash ($2y$...): make one with htpasswd -nbBC 10 USER PASSWORD`,
			`14: consumer "carol": jwt: write subject, or claim and value, not both`,
			`15: consumer "dave": jwt: write subject: SUB, or claim: NAME with value: VALUE`,
		}},
		{"apis and subscriptions", okListener + okUpstream + `routes:
  - {name: open, upstream: app, match: {path: /open/*}}
  - {name: paid, upstream: app, match: {path: /paid/*}, policies: [{auth: {api_key: {}}}]}
consumers:
  - {name: alice, api_keys: [alice-key-1]}
apis:
  - {name: free, routes: [open, opne], subscription_required: true}
  - {name: orders, routes: [paid, open]}
  - {name: empty}
subscriptions:
  - {consumer: alice, api: orders}
  - {consumer: alice, api: orders, status: maybe}
  - {consumer: bob, api: nope}
`, []string{
			`9: api "free": route "open" needs an auth policy: subscriptions are checked against the authenticated consumer`,
			`9: api "free": unknown route "opne" (did you mean "open"?)`,
			`10: api "orders": route "open" is already in api "free": a route belongs to one API`,
			`11: api "empty": routes: list the names of the routes this API groups`,
			`14: subscription #2: status "maybe": use approved, pending or revoked`,
			`14: subscription #2: consumer "alice" already has a subscription to "orders" (line 13)`,
			`15: subscription #3: unknown consumer "bob": define it under consumers`,
			`15: subscription #3: unknown api "nope": define it under apis`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse("aya.yaml", []byte(tc.yaml), noEnv)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, strings.TrimPrefix(e.Error(), "aya.yaml:"))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
			if strings.Contains(err.Error(), "alice-key-1") {
				t.Errorf("an error shows an API key: %v", err)
			}
		})
	}
}

func TestAuthPoliciesGood(t *testing.T) {
	y := okListener + okUpstream + `routes:
  - name: all
    upstream: app
    policies:
      - auth:
          api_key: {query: api_key}
          basic: {}
          jwt: {secret: "${JWT_SECRET}", audience: api, claims_to_headers: {sub: X-User}}
          oauth2: {introspection_url: "https://idp/introspect", client_id: aya}
      - acl: {allow_groups: [paid]}
consumers:
  - {name: alice, tenant: acme, groups: [paid], metadata: {plan: gold}, api_keys: ["${ALICE_KEY}"]}
  - {name: bob, basic: {username: bob, password_hash: "` + bcryptHash + `"}, jwt: {subject: bob@example.com}}
apis:
  - {name: all, routes: [all], subscription_required: true}
subscriptions:
  - {consumer: alice, api: all}
  - {consumer: bob, api: all, status: pending}
`
	cfg, err := parse("aya.yaml", []byte(y), envMap(map[string]string{"JWT_SECRET": strings.Repeat("s", 32), "ALICE_KEY": "alice-secret-key"}))
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Routes[0].Policies[0].Auth
	if a.APIKey.Header != "X-API-Key" || a.APIKey.Query != "api_key" || a.Basic.Realm != "aya" {
		t.Errorf("api_key/basic defaults: %+v %+v", a.APIKey, a.Basic)
	}
	j := a.JWT
	if j.ConsumerClaim != "sub" || j.Leeway.D().Seconds() != 30 || j.JWKSRefresh.D().Minutes() != 10 || len(j.Audience) != 1 || j.Audience[0] != "api" {
		t.Errorf("jwt defaults: %+v", j)
	}
	if o := a.OAuth2; o.CacheTTL.D().Seconds() != 60 || o.Timeout.D().Seconds() != 5 {
		t.Errorf("oauth2 defaults: %+v", o)
	}
	if cfg.Subscriptions[0].Status != "approved" || cfg.Consumers[0].APIKeys[0] != "alice-secret-key" {
		t.Errorf("subscription default status %q, key expanded %v", cfg.Subscriptions[0].Status, cfg.Consumers[0].APIKeys)
	}
	if c, v := cfg.Consumers[1].JWT.Match(); c != "sub" || v != "bob@example.com" {
		t.Errorf("jwt match = %s=%s", c, v)
	}
	view := NewView(cfg)
	for _, secret := range []string{"alice-secret-key", bcryptHash, strings.Repeat("s", 32)} {
		if strings.Contains(strings.Join(flatten(view.Config), " "), secret) {
			t.Errorf("the admin view shows a secret %q", secret)
		}
	}
}

// flatten lists every string leaf of a view.
func flatten(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, flatten(e)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return nil
}
