package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func rateLimitRoute(policy string) string {
	return okListener + okUpstream + "routes:\n  - name: api\n    upstream: app\n    policies:\n      - rate_limit: " + policy + "\n"
}

func TestRateLimitPolicyGood(t *testing.T) {
	tests := []struct {
		policy string
		check  func(p *RateLimitPolicy) bool
	}{
		{"{rate: 10/s, burst: 20}", func(p *RateLimitPolicy) bool {
			return p.Key == "consumer" && p.Algorithm == "gcra" && p.Rate == LimitRate{10, time.Second} && p.Burst == 20 && p.Quota == nil
		}},
		{"{key: \"consumer, ip\", rate: 600/m, algorithm: sliding_window}", func(p *RateLimitPolicy) bool {
			return p.Rate == LimitRate{600, time.Minute} && p.Algorithm == "sliding_window"
		}},
		{"{key: header:X-User, quota: {limit: 1000, per: month}}", func(p *RateLimitPolicy) bool {
			return !p.Rate.Set() && p.Quota != nil && p.Quota.Limit == 1000 && p.Quota.Per == "month"
		}},
		{"{key: route, rate: 0.5, algorithm: token_bucket}", func(p *RateLimitPolicy) bool {
			return p.Rate == LimitRate{0.5, time.Second}
		}},
		{"{rate: 100/d, algorithm: sliding_log}", func(p *RateLimitPolicy) bool { return p.Rate.Per == 24*time.Hour }},
	}
	for _, tc := range tests {
		cfg, err := parse(filepath.Join(t.TempDir(), "aya.yaml"), []byte(rateLimitRoute(tc.policy)), noEnv)
		if err != nil {
			t.Errorf("%s: %v", tc.policy, err)
			continue
		}
		if p := cfg.Routes[0].Policies[0].RateLimit; !tc.check(p) {
			t.Errorf("%s: decoded %+v", tc.policy, p)
		}
	}
}

func TestRateLimitPolicyBad(t *testing.T) {
	tests := []struct {
		policy string
		want   string
	}{
		{"{}", `7: route "api" rate_limit: set rate (like rate: 10/s), quota (like quota: {limit: 1000, per: day}) or both`},
		{"{rate: 10/w}", `7: route "api" policy #1 rate_limit: rate: invalid rate "10/w": the unit after / must be s, m, h or d`},
		{"{rate: -1/s}", `7: route "api" policy #1 rate_limit: rate: invalid rate "-1/s": want a positive number of requests per unit, like 10/s or 600/m`},
		{"{rate: 10/s, algorithm: leaky_bucket}", `7: route "api" rate_limit: unknown algorithm "leaky_bucket": use gcra, token_bucket, fixed_window, sliding_window, sliding_log`},
		{"{rate: 10/s, algorithm: fixed_windows}", `7: route "api" rate_limit: unknown algorithm "fixed_windows": use gcra, token_bucket, fixed_window, sliding_window, sliding_log (did you mean "fixed_window"?)`},
		{"{rate: 10/s, burst: -1}", `7: route "api" rate_limit: burst must be from 1 to 1e9 requests, got -1`},
		{"{rate: 10/s, burst: 5, algorithm: fixed_window}", `7: route "api" rate_limit: burst applies to the gcra (token bucket) algorithm only; a fixed_window allows rate's count per window: remove burst or the algorithm`},
		{"{rate: 0.5/s, algorithm: sliding_window}", `7: route "api" rate_limit: a sliding_window counts whole requests per window: write the rate with a whole count, like 30/m for 0.5/s`},
		{"{rate: 20000/s, algorithm: sliding_log}", `7: route "api" rate_limit: sliding_log keeps every request's time, so at most 10000 per window (got 20000): use sliding_window for larger counts`},
		{"{rate: 10/s, key: user}", `7: route "api" rate_limit: key "user": each part must be consumer, ip, route or header:NAME (several separated by commas, like consumer,ip)`},
		{"{rate: 10/s, key: \"header:X User\"}", `7: route "api" rate_limit: key "header:X User": each part must be consumer, ip, route or header:NAME (several separated by commas, like consumer,ip)`},
		{"{rate: 10/s, key: \"ip,consumer,ip\"}", `7: route "api" rate_limit: key "ip,consumer,ip" lists ip twice`},
		{"{quota: {limit: 0, per: day}}", `7: route "api" rate_limit: quota.limit must be at least 1 request, got 0`},
		{"{quota: {limit: 10, per: week}}", `7: route "api" rate_limit: quota.per "week": use minute, hour, day or month`},
		{"{quota: {limit: 10, per: mnth}}", `7: route "api" rate_limit: quota.per "mnth": use minute, hour, day or month (did you mean "month"?)`},
		{"{rate: 10/s, per: day}", `7: unknown key "per" in route "api" policy #1 rate_limit`},
	}
	for _, tc := range tests {
		dir := t.TempDir()
		_, err := parse(filepath.Join(dir, "aya.yaml"), []byte(rateLimitRoute(tc.policy)), noEnv)
		var errs Errors
		if !errors.As(err, &errs) {
			t.Errorf("%s: %v, want config errors", tc.policy, err)
			continue
		}
		var got []string
		for _, e := range errs {
			got = append(got, strings.TrimPrefix(e.Error(), filepath.Join(dir, "aya.yaml")+":"))
		}
		if strings.Join(got, "\n") != tc.want {
			t.Errorf("%s:\n got: %s\nwant: %s", tc.policy, strings.Join(got, "\n      "), tc.want)
		}
	}
}

func TestLimitRateText(t *testing.T) {
	for _, s := range []string{"10/s", "600/m", "5000/h", "100000/d", "0.5/s"} {
		var r LimitRate
		if err := r.UnmarshalText([]byte(s)); err != nil {
			t.Fatal(err)
		}
		if b, _ := r.MarshalText(); string(b) != s {
			t.Errorf("%s → %s", s, b)
		}
	}
}

func TestRateLimitOnRedisDown(t *testing.T) {
	base := "listeners: [{name: web, address: \"127.0.0.1:8080\"}]\nupstreams: [{name: u, targets: [\"http://127.0.0.1:9\"]}]\n"
	route := "routes: [{name: r, upstream: u, policies: [{rate_limit: {rate: 1/s, on_redis_down: %s}}]}]\n"
	if _, err := Parse("aya.yaml", []byte(base+strings.Replace(route, "%s", "closed", 1)+"cluster: {redis: \"redis://127.0.0.1:6379\"}\n")); err != nil {
		t.Fatalf("closed with a cluster: %v", err)
	}
	if _, err := Parse("aya.yaml", []byte(base+strings.Replace(route, "%s", "closed", 1))); err == nil || !strings.Contains(err.Error(), "on_redis_down is for cluster mode") {
		t.Fatalf("without a cluster: %v", err)
	}
	if _, err := Parse("aya.yaml", []byte(base+strings.Replace(route, "%s", "maybe", 1)+"cluster: {redis: \"redis://127.0.0.1:6379\"}\n")); err == nil || !strings.Contains(err.Error(), "aya.yaml:3: ") || !strings.Contains(err.Error(), "must be open or closed") {
		t.Fatalf("a bad value: %v", err)
	}
}
