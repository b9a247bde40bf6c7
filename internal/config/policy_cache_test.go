package config

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCachePolicyGood(t *testing.T) {
	dir := t.TempDir()
	yaml := okListener + okUpstream + `cache: {max_size: 64MB}
routes:
  - name: api
    policies:
      - cache:
          ttl: 30s
          methods: [GET]
          key: {headers: [X-Tenant], query: [id, page], cookies: [lang], consumer: true}
          vary: false
          max_entry_size: 2MB
          stale_while_revalidate: 10s
          stale_if_error: 1h
          tags_header: Cache-Tag
          allow_set_cookie: true
    upstream: app
  - name: defaults
    policies:
      - cache:
    upstream: app
  - name: noquery
    policies:
      - cache: {key: {query: false}}
    upstream: app
`
	cfg, err := parse(filepath.Join(dir, "aya.yaml"), []byte(yaml), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CacheSize() != 64<<20 {
		t.Errorf("cache size %d", cfg.CacheSize())
	}
	c := cfg.Routes[0].Policies[0].Cache
	if c.TTL.D() != 30*time.Second || strings.Join(c.Methods, ",") != "GET" || c.Vary || c.MaxEntrySize != 2<<20 ||
		c.StaleWhileRevalidate.D() != 10*time.Second || c.StaleIfError.D() != time.Hour || c.TagsHeader != "Cache-Tag" || !c.AllowSetCookie {
		t.Errorf("cache = %+v", c)
	}
	if k := c.Key; strings.Join(k.Headers, ",") != "X-Tenant" || strings.Join(k.Query, ",") != "id,page" || k.Query.All() || k.Query.None() ||
		strings.Join(k.Cookies, ",") != "lang" || !k.Consumer {
		t.Errorf("key = %+v", k)
	}
	d := cfg.Routes[1].Policies[0].Cache
	if d.TTL.D() != time.Minute || d.Methods != nil || !d.Vary || d.MaxEntrySize != 1<<20 || d.TagsHeader != "Surrogate-Key" ||
		!d.Key.Query.All() || d.StaleIfError != 0 || d.AllowSetCookie {
		t.Errorf("defaults = %+v", d)
	}
	if q := cfg.Routes[2].Policies[0].Cache.Key.Query; !q.None() {
		t.Errorf("query: false = %v", q)
	}

	cfg, err = parse(filepath.Join(dir, "aya.yaml"), []byte(okListener+okUpstream+okRoute), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.CacheSize() != DefaultCacheSize {
		t.Errorf("default cache size %d", cfg.CacheSize())
	}
}

func TestCachePolicyBad(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"policy errors", okListener + okUpstream + `routes:
  - name: api
    policies:
      - cache:
          methods: [GET, POST]
          key: {headers: ["X Tenant"], cookies: ["a;b"], query: [id, "a=b"]}
          max_entry_size: 0
          tags_header: "Surrogate Key"
    upstream: app
`, []string{
			`7: route "api" cache: method "POST" cannot be cached: list GET and/or HEAD (other methods pass through and invalidate what they change)`,
			`8: route "api" cache key: headers: "X Tenant" is not a valid header name`,
			`8: route "api" cache key: cookies: "a;b" is not a valid cookie name`,
			`8: route "api" cache key: query: "a=b" is not a parameter name: write true (the whole query), false (none) or a list of names like [id, page]`,
			`9: route "api" cache: max_entry_size must be above 0, like 1MB`,
			`10: route "api" cache: tags_header "Surrogate Key" is not a valid header name`,
		}},
		{"entry larger than the store", okListener + okUpstream + `cache: {max_size: 1MB}
routes:
  - name: api
    policies:
      - cache: {max_entry_size: 2MB, methods: []}
    upstream: app
`, []string{
			`7: route "api" cache: methods is empty: leave it out for [GET, HEAD]`,
			`7: route "api" cache: max_entry_size 2MB is larger than the whole cache (1MB): raise cache.max_size at the top level or lower max_entry_size`,
		}},
		{"store too small", okListener + okUpstream + okRoute + `cache: {max_size: 1KB, maxsize: 1}
`, []string{
			`4: unknown key "maxsize" in cache (did you mean "max_size"?)`,
			`4: cache: max_size 1KB is too small to hold responses: write at least 64KB, like 256MB`,
		}},
		{"bad types", okListener + okUpstream + `routes:
  - name: api
    policies:
      - cache: {ttl: 5, vary: maybe, stale_if_error: -1s}
    upstream: app
`, []string{
			`6: route "api" policy #1 cache: ttl: invalid duration "5": write a number with a unit, like 10s, 500ms or 1m30s`,
			`6: route "api" policy #1 cache: vary: want true or false, got "maybe"`,
			`6: route "api" policy #1 cache: stale_if_error: invalid duration "-1s": must not be negative`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(filepath.Join(dir, "aya.yaml"), []byte(tc.yaml), noEnv)
			wantErrors(t, err, dir, tc.want)
		})
	}
}
