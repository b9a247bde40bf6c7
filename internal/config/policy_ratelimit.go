package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// RateLimitPolicy limits how fast a key (consumer, client IP, header, route) may send requests,
// and optionally how many it may send per minute/hour/day/month.
type RateLimitPolicy struct {
	// Key is what requests are counted by: consumer, ip, route, header:NAME, or a composite
	// like "consumer,ip". An anonymous request's consumer is its client IP.
	Key string `yaml:"key" default:"consumer"`
	// Rate is the sustained rate ("10/s", "600/m"); the bucket refill for gcra, the window's
	// allowance for the window algorithms.
	Rate LimitRate `yaml:"rate"`
	// Burst is gcra's bucket size: how many requests may pass back to back. 0: the rate's
	// count (10 for 10/s).
	Burst int64 `yaml:"burst"`
	// Algorithm is gcra (also token_bucket), fixed_window, sliding_window or sliding_log.
	Algorithm string          `yaml:"algorithm" default:"gcra"`
	Quota     *RateLimitQuota `yaml:"quota"`
	// OnRedisDown overrides cluster.on_redis_down for this policy: open (each node limits on
	// its own while Redis fails) or closed (503). Empty: the cluster's setting.
	OnRedisDown string `yaml:"on_redis_down"`
}

// RateLimitQuota caps a key's requests per calendar period (fixed windows in UTC).
type RateLimitQuota struct {
	Limit int64  `yaml:"limit"`
	Per   string `yaml:"per"` // minute, hour, day or month
}

// LimitRate is a count of requests per unit of time, as written: "10/s", "600/m", "5000/h",
// "100000/d" (or a bare number, per second). It keeps the unit, so a fixed window of "600/m"
// is a minute long rather than a tenth of a second.
type LimitRate struct {
	Count float64
	Per   time.Duration
}

// UnmarshalText parses a rate.
func (r *LimitRate) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	num, unit, hasUnit := strings.Cut(s, "/")
	per := time.Second
	if hasUnit {
		switch strings.TrimSpace(unit) {
		case "s", "sec", "second":
		case "m", "min", "minute":
			per = time.Minute
		case "h", "hour":
			per = time.Hour
		case "d", "day":
			per = 24 * time.Hour
		default:
			return fmt.Errorf("invalid rate %q: the unit after / must be s, m, h or d", s)
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f <= 0 || f > 1e12 {
		return fmt.Errorf("invalid rate %q: want a positive number of requests per unit, like 10/s or 600/m", s)
	}
	*r = LimitRate{Count: f, Per: per}
	return nil
}

// MarshalText writes the rate as it is read.
func (r LimitRate) MarshalText() ([]byte, error) {
	if r.Per == 0 {
		return []byte("0"), nil
	}
	unit := map[time.Duration]string{time.Second: "s", time.Minute: "m", time.Hour: "h", 24 * time.Hour: "d"}[r.Per]
	return []byte(strconv.FormatFloat(r.Count, 'g', -1, 64) + "/" + unit), nil
}

// Set reports whether a rate was written.
func (r LimitRate) Set() bool { return r.Per > 0 }

var (
	rateLimitAlgorithms = []string{"gcra", "token_bucket", "fixed_window", "sliding_window", "sliding_log"}
	quotaPeriods        = []string{"minute", "hour", "day", "month"}
)

// maxLogCount mirrors state.MaxLogCount (config is a leaf and does not import it).
const maxLogCount = 10000

func (v *validator) rateLimitPolicy(cfg *Config, p *RateLimitPolicy, path, ctx string, line int) {
	v.rateLimitKey(p.Key, path+".key", ctx, line)
	switch {
	case p.OnRedisDown == "":
	case p.OnRedisDown != "open" && p.OnRedisDown != "closed":
		v.errAt(path+".on_redis_down", line, "%s: on_redis_down must be open or closed, got %q", ctx, p.OnRedisDown)
	case cfg.Cluster == nil:
		v.errAt(path+".on_redis_down", line, "%s: on_redis_down is for cluster mode: add a top-level cluster: {redis: ...} or remove it", ctx)
	}
	if !p.Rate.Set() && p.Quota == nil && !v.bad[path+".rate"] {
		v.errAt(path, line, "%s: set rate (like rate: 10/s), quota (like quota: {limit: 1000, per: day}) or both", ctx)
	}
	gcra := p.Algorithm == "gcra" || p.Algorithm == "token_bucket"
	if !slices.Contains(rateLimitAlgorithms, p.Algorithm) {
		v.errAt(path+".algorithm", line, "%s: unknown algorithm %q: use %s%s", ctx, p.Algorithm, strings.Join(rateLimitAlgorithms, ", "), didYouMean(p.Algorithm, rateLimitAlgorithms))
		gcra = true // judge the rest as the default would
	}
	switch {
	case p.Burst < 0 || p.Burst > 1e9:
		v.errAt(path+".burst", line, "%s: burst must be from 1 to 1e9 requests, got %d", ctx, p.Burst)
	case p.Burst > 0 && !gcra:
		v.errAt(path+".burst", line, "%s: burst applies to the gcra (token bucket) algorithm only; a %s allows rate's count per window: remove burst or the algorithm", ctx, p.Algorithm)
	}
	if p.Rate.Set() && !gcra {
		if p.Rate.Count != math.Trunc(p.Rate.Count) {
			v.errAt(path+".rate", line, "%s: a %s counts whole requests per window: write the rate with a whole count, like 30/m for 0.5/s", ctx, p.Algorithm)
		}
		if p.Algorithm == "sliding_log" && p.Rate.Count > maxLogCount {
			v.errAt(path+".rate", line, "%s: sliding_log keeps every request's time, so at most %d per window (got %g): use sliding_window for larger counts", ctx, maxLogCount, p.Rate.Count)
		}
	}
	if q := p.Quota; q != nil {
		qp := path + ".quota"
		if q.Limit < 1 {
			v.errAt(qp+".limit", line, "%s: quota.limit must be at least 1 request, got %d", ctx, q.Limit)
		}
		if !slices.Contains(quotaPeriods, q.Per) {
			v.errAt(qp+".per", line, "%s: quota.per %q: use minute, hour, day or month%s", ctx, q.Per, didYouMean(q.Per, quotaPeriods))
		}
	}
}

// rateLimitKey checks a key's syntax; the rate-limit policy parses it again when it is built.
func (v *validator) rateLimitKey(key, path, ctx string, line int) {
	seen := map[string]bool{}
	for part := range strings.SplitSeq(key, ",") {
		part = strings.TrimSpace(part)
		name, header := strings.CutPrefix(part, "header:")
		switch {
		case part == "consumer", part == "ip", part == "route":
		case header && isToken(strings.TrimSpace(name)):
			part = "header:" + strings.ToLower(strings.TrimSpace(name))
		default:
			v.errAt(path, line, "%s: key %q: each part must be consumer, ip, route or header:NAME (several separated by commas, like consumer,ip)", ctx, key)
			return
		}
		if seen[part] {
			v.errAt(path, line, "%s: key %q lists %s twice", ctx, key, part)
			return
		}
		seen[part] = true
	}
}
