package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"time"

	"aya/internal/config"
	"aya/internal/policy"
	"aya/internal/policy/ratelimit"
	"aya/internal/state"
	"aya/internal/state/memory"
)

// limitState keeps rate-limit counters across reloads: one store for every rate_limit policy,
// each policy's keys under an ID made of where the policy is written and a hash of its
// settings. A reload that leaves a policy as it was rebuilds it with the same ID and so carries
// on counting; a changed policy starts afresh, and its old counters expire from the store.
type limitState struct {
	store *memory.Store
	// shared, when set (cluster:), decides instead of store, which it falls back on.
	shared     state.Limiter
	failClosed bool
}

func (l *limitState) init(*slog.Logger) { l.store = memory.New(memory.Options{}) }
func (l *limitState) close()            { l.store.Close() }

func (b *policyBuild) rateLimit(c *config.RateLimitPolicy) (policy.Middleware, error) {
	key, err := ratelimit.ParseKey(c.Key)
	if err != nil {
		return nil, err
	}
	store, failClosed := b.state.limit.limiterFor(c.OnRedisDown)
	o := ratelimit.Options{
		ID:         b.limitID(c),
		Key:        key,
		Store:      store,
		FailClosed: failClosed,
		Log:        b.log.With("policy", "rate_limit"),

		OnLimited: b.state.metrics.onLimited(b.route.Name),
	}
	if c.Rate.Set() {
		l, err := rateOf(c)
		if err != nil {
			return nil, err
		}
		o.Rate = &l
	}
	if c.Quota != nil {
		q := quotaOf(c.Quota)
		o.Quota = &q
	}
	return ratelimit.New(o)
}

// rateOf turns a policy's rate into a state.Limit. A fractional rate (0.5/s) becomes one
// request per a longer period for gcra; the window algorithms only take whole counts (config
// validation sees to that).
func rateOf(c *config.RateLimitPolicy) (state.Limit, error) {
	alg, err := state.ParseAlgorithm(c.Algorithm)
	if err != nil {
		return state.Limit{}, err
	}
	n, per := c.Rate.Count, c.Rate.Per
	l := state.Limit{Algorithm: alg, Count: int64(n), Period: per}
	if n != math.Trunc(n) {
		l.Count, l.Period = 1, time.Duration(float64(per)/n)
	}
	if alg == state.GCRA {
		l.Burst = c.Burst
		if l.Burst == 0 {
			l.Burst = max(int64(math.Ceil(n)), 1)
		}
	}
	return l, nil
}

func quotaOf(q *config.RateLimitQuota) state.Limit {
	l := state.Limit{Algorithm: state.FixedWindow, Count: q.Limit}
	switch q.Per {
	case "minute":
		l.Period = time.Minute
	case "hour":
		l.Period = time.Hour
	case "day":
		l.Period = 24 * time.Hour
	case "month":
		l.Monthly = true
	}
	return l
}

// limitID names a policy's counters: where it is written (a route's own policy, or a
// listener's default shared by the listener's routes), its position, and a hash of its
// settings.
func (b *policyBuild) limitID(c *config.RateLimitPolicy) string {
	where := "route:" + b.route.Name + "#?"
	found := false
	for i := range b.route.Policies {
		if b.route.Policies[i].RateLimit == c {
			where, found = fmt.Sprintf("route:%s#%d", b.route.Name, i), true
			break
		}
	}
	for _, l := range b.cfg.Listeners {
		if found {
			break
		}
		for i := range l.Policies {
			if l.Policies[i].RateLimit == c {
				where, found = fmt.Sprintf("listener:%s#%d", l.Name, i), true
				break
			}
		}
	}
	settings := fmt.Sprintf("%q %v %d %q", c.Key, c.Rate, c.Burst, c.Algorithm)
	if q := c.Quota; q != nil {
		settings += fmt.Sprintf(" quota %d/%s", q.Limit, q.Per)
	}
	sum := sha256.Sum256([]byte(settings))
	return where + ":" + hex.EncodeToString(sum[:8])
}
