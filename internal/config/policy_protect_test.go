package config

import (
	"errors"
	"net/netip"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestProtectPoliciesGood(t *testing.T) {
	yaml := okListener + okUpstream + `routes:
  - name: all
    upstream: app
    policies:
      - ip_filter: {allow: [10.0.0.0/8, "::1"], deny: [10.1.0.0/16]}
      - cors:
          allow_origins: ["https://a.example", "*.example.com"]
          allow_methods: [GET, POST]
          allow_headers: [Content-Type]
          expose_headers: [X-Total]
          allow_credentials: true
          max_age: 1h
      - request_limits: {max_header_count: 50, max_header_bytes: 8KB, max_query_length: 2KB, timeout: 5s}
      - compress:
`
	cfg, err := parse(filepath.Join(t.TempDir(), "aya.yaml"), []byte(yaml), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	ps := cfg.Routes[0].Policies
	ip := ps[0].IPFilter
	if want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}; !reflect.DeepEqual(ip.Allow, want) {
		t.Errorf("allow = %v", ip.Allow)
	}
	c := ps[1].CORS
	if !c.AllowCredentials || c.MaxAge.D() != time.Hour || len(c.AllowOrigins) != 2 || c.ExposeHeaders[0] != "X-Total" {
		t.Errorf("cors = %+v", c)
	}
	l := ps[2].RequestLimits
	if l.MaxBody != 1<<20 || l.MaxHeaderCount != 50 || l.MaxHeaderBytes != 8<<10 || l.MaxQueryLength != 2<<10 || l.Timeout.D() != 5*time.Second {
		t.Errorf("request_limits = %+v", l)
	}
	if cp := ps[3].Compress; cp == nil || cp.MinSize != 1024 || cp.Level != "default" || len(cp.Algorithms) != 0 || len(cp.Types) != 0 {
		t.Errorf("compress defaults = %+v", cp)
	}

	cfg, err = parse("", []byte(okListener+okUpstream+`routes:
  - name: all
    upstream: app
    policies:
      - cors: {allow_origins: ["*"]}
      - compress: {algorithms: [gzip, br], min_size: 0, types: [text/*, application/*+json], level: best}
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if c := cfg.Routes[0].Policies[0].CORS; c.MaxAge.D() != 10*time.Minute || c.AllowCredentials {
		t.Errorf("cors defaults = %+v", c)
	}
	if cp := cfg.Routes[0].Policies[1].Compress; cp.MinSize != 0 || cp.Level != "best" || cp.Algorithms[1] != "br" {
		t.Errorf("compress = %+v", cp)
	}
}

func TestProtectPoliciesBad(t *testing.T) {
	head := okListener + okUpstream + "routes:\n  - name: all\n    upstream: app\n    policies:\n"
	// head ends on line 6; the first policy is on line 7.
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"compress", head + `      - compress:
          algorithms: [gzip, deflate, gzip]
          min_size: 2MB
          types: [json, "*/json", "application/js*", text/*]
          level: fast
`, []string{
			`8: route "all" compress: unknown algorithm "deflate": use br, zstd or gzip`,
			`8: route "all" compress: algorithm "gzip" is listed twice`,
			`9: route "all" compress: min_size 2MB is above the 1MB aya holds back per response; responses that large are worth compressing anyway`,
			`10: route "all" compress: content type "json": write a media type like text/*, application/json or application/*+json`,
			`10: route "all" compress: content type "*/json": the type before / cannot be a wildcard; list each type (text/*, application/json)`,
			`10: route "all" compress: content type "application/js*": a wildcard is the whole subtype (text/*) or the name before a suffix (application/*+json)`,
			`11: route "all" compress: unknown level "fast": use fastest, default, better or best`,
		}},
		{"compress unknown key", head + "      - compress: {min: 1KB}\n", []string{
			`7: unknown key "min" in route "all" policy #1 compress`,
		}},
		{"cors", head + `      - cors:
          allow_origins: ["*", "a.example", "https://a.example/app", "ftp://a.example", "https://a.*.example"]
          allow_methods: [GET, "PO ST"]
          allow_headers: ["X:Y"]
          expose_headers: ["*"]
          allow_credentials: true
`, []string{
			`8: route "all" cors: allow_origins "*" with allow_credentials: true would let every site send your users' cookies; list the origins that may (aya would reflect any origin otherwise)`,
			`8: route "all" cors: origin "a.example": write the scheme too, like https://a.example`,
			`8: route "all" cors: origin "https://a.example/app": write scheme://host[:port] with no path, like https://app.example.com, or *.example.com for its subdomains`,
			`8: route "all" cors: origin "ftp://a.example": the scheme must be http or https`,
			`8: route "all" cors: origin "https://a.*.example": a wildcard covers whole subdomains: write *.example.com, or "*" alone for any origin`,
			`9: route "all" cors: "PO ST" is not an HTTP method: write names like GET, POST, DELETE`,
			`10: route "all" cors: allow_headers: "X:Y" is not a header name`,
			`11: route "all" cors: expose_headers "*" means a header literally named * when allow_credentials is on; list the headers scripts may read`,
		}},
		{"cors without origins", head + "      - cors: {allow_methods: [GET]}\n", []string{
			`7: route "all" cors: allow_origins is required: list the origins browsers may call from, like [https://app.example.com, "*.example.com"], or ["*"] for any`,
		}},
		{"ip_filter empty", head + "      - ip_filter: {}\n", []string{
			`7: route "all" ip_filter: lists no addresses: write allow: [CIDR...] to admit only those, deny: [CIDR...] to refuse those, or both`,
		}},
		{"ip_filter bad cidr", head + "      - ip_filter: {deny: [10.0.0.0/33]}\n", []string{
			`7: route "all" policy #1 ip_filter: deny #1: invalid CIDR "10.0.0.0/33": write an address or a prefix like 10.0.0.0/8 or fd00::/8`,
		}},
		{"request_limits", head + `      - request_limits:
          max_body: 0
          max_header_count: -1
`, []string{
			`7: route "all" request_limits: every limit is 0 (off): set max_body, max_header_count, max_header_bytes, max_query_length or timeout, or remove the policy`,
			`9: route "all" request_limits: max_header_count must not be negative (0 leaves it to the listener)`,
		}},
		{"request_limits bad size", head + "      - request_limits: {max_body: lots}\n", []string{
			`7: route "all" policy #1 request_limits: max_body: invalid size "lots": write bytes or a number with a unit, like 512, 64KB or 10MB (KB = 1024 bytes)`,
		}},
	}
	dir := t.TempDir()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, "aya.yaml")
			_, err := parse(file, []byte(tc.yaml), noEnv)
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want Errors: %v", err, err)
			}
			var got []string
			for _, e := range errs {
				got = append(got, strings.TrimPrefix(e.Error(), file+":"))
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("errors:\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(tc.want, "\n      "))
			}
		})
	}
}
