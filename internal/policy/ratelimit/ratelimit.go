// Package ratelimit is the rate_limit policy: it counts each request against a rate (GCRA by
// default, or a fixed window, sliding window or sliding log) and an optional quota per
// minute/hour/day/month, keyed by consumer, client IP, a header, the route, or a composite of
// them. A request over either gets aya's JSON 429 with Retry-After; every answer carries the
// IETF draft RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset headers.
//
// Counters live in a state.Limiter (memory, or Redis for a cluster) under the policy's ID, so a
// reload that keeps the ID keeps the counters. The package knows nothing of config or of the
// gateway; it must not keep anything of a request past its handler.
package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"aya/internal/httpx"
	"aya/internal/policy"
	"aya/internal/proxy"
	"aya/internal/state"
)

// Options configure one rate_limit policy.
type Options struct {
	// ID names the policy's counters in Store. Two policies with the same ID share counters;
	// a reload that rebuilds a policy with the same ID carries its counters on.
	ID string
	// Key is what requests are counted by.
	Key Key
	// Rate limits how fast a key may send; nil when only a quota applies.
	Rate *state.Limit
	// Quota caps a key's requests per calendar period; nil for none. It counts only requests
	// the rate let through.
	Quota *state.Limit
	// Store keeps the counters.
	Store state.Limiter
	// FailClosed answers 503 when the store cannot decide (Redis unreachable); by default the
	// request passes unlimited.
	FailClosed bool
	Log        *slog.Logger
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// OnLimited, when set, is called for every request the policy refuses with a 429 (the
	// gateway counts them in a metric); quota says whether the quota (not the rate) refused.
	OnLimited func(quota bool)
}

// New builds the policy's middleware.
func New(o Options) (policy.Middleware, error) {
	if o.Store == nil {
		return nil, errors.New("ratelimit: no store")
	}
	if o.Rate == nil && o.Quota == nil {
		return nil, errors.New("ratelimit: set a rate, a quota or both")
	}
	if len(o.Key) == 0 {
		return nil, errors.New("ratelimit: no key")
	}
	for _, l := range []*state.Limit{o.Rate, o.Quota} {
		if l == nil {
			continue
		}
		if err := l.Validate(); err != nil {
			return nil, fmt.Errorf("ratelimit: %w", err)
		}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	cfg := &limitCfg{
		prefix:     append([]byte(o.ID), 0),
		key:        o.Key,
		needsState: o.Key.needsState(),
		rate:       o.Rate,
		quota:      o.Quota,
		store:      o.Store,
		failClosed: o.FailClosed,
		log:        o.Log,
		now:        o.Now,
		onLimited:  o.OnLimited,
		rateMsg:    "rate limit exceeded (" + describe(o.Rate) + " per " + o.Key.String() + "): retry after the Retry-After seconds",
		quotaMsg:   "quota exhausted (" + describe(o.Quota) + " per " + o.Key.String() + "): it resets in RateLimit-Reset seconds",
	}
	return func(next httpx.Handler) httpx.Handler {
		return &limiter{limitCfg: cfg, next: next}
	}, nil
}

// describe writes a limit for a client's error message: "10 requests per 1s, burst 10".
func describe(l *state.Limit) string {
	if l == nil {
		return ""
	}
	per := l.Period.String()
	if l.Monthly {
		per = "month"
	}
	s := fmt.Sprintf("%d requests per %s", l.Count, per)
	if l.Algorithm == state.GCRA {
		s += fmt.Sprintf(", burst %d", l.Burst)
	}
	return s
}

// limitCfg is one policy's settings, shared by every chain it is built into (a route's own and
// each listener's with defaults).
type limitCfg struct {
	prefix     []byte
	key        Key
	needsState bool
	rate       *state.Limit
	quota      *state.Limit
	store      state.Limiter
	failClosed bool
	log        *slog.Logger
	now        func() time.Time
	onLimited  func(quota bool)
	rateMsg    string
	quotaMsg   string
	// lastErrLog rate-limits the log line a failing store causes (Unix ns of the last one).
	lastErrLog atomic.Int64
}

type limiter struct {
	*limitCfg
	next httpx.Handler
}

// call is one request's scratch memory, pooled: the key's bytes and the response writers.
type call struct {
	key []byte
	hw  hijackWriter
}

var calls = sync.Pool{New: func() any { return &call{key: make([]byte, 0, 256)} }}

func (l *limiter) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	c := calls.Get().(*call)
	defer func() {
		c.hw.w = nil
		calls.Put(c)
	}()
	hw := &c.hw.headerWriter
	hw.reset(w)
	var out httpx.ResponseWriter = hw
	if _, ok := w.(httpx.Hijacker); ok {
		out = &c.hw
	}

	var st *policy.State
	if l.needsState {
		st = policy.From(r)
	}
	c.key = l.key.appendKey(append(c.key[:0], l.prefix...), r, st)
	// The last byte tells the rate's counter from the quota's.
	c.key = append(c.key, 'r')
	key := unsafe.String(unsafe.SliceData(c.key), len(c.key))
	ctx := r.Context()
	now := l.now()

	var d state.Decision
	if l.rate != nil {
		rd, err := l.store.Allow(ctx, key, *l.rate, now)
		if err != nil {
			l.storeFailed(out, r, err)
			return
		}
		if !rd.Allowed {
			l.deny(hw, out, r, rd, l.rateMsg)
			return
		}
		d = rd
	}
	if l.quota != nil {
		c.key[len(c.key)-1] = 'q'
		qd, err := l.store.Allow(ctx, key, *l.quota, now)
		if err != nil {
			l.storeFailed(out, r, err)
			return
		}
		if !qd.Allowed {
			l.deny(hw, out, r, qd, l.quotaMsg)
			return
		}
		// Report the tighter of the two, the one the client runs into first (on a tie, the
		// one that takes longer to come back).
		if l.rate == nil || qd.Remaining < d.Remaining || qd.Remaining == d.Remaining && qd.Reset > d.Reset {
			d = qd
		}
	}
	hw.d, hw.set = d, true
	l.next.ServeHTTPX(out, r)
}

func (l *limiter) deny(hw *headerWriter, out httpx.ResponseWriter, r *httpx.Request, d state.Decision, msg string) {
	hw.d, hw.set = d, true
	if l.onLimited != nil {
		l.onLimited(msg == l.quotaMsg)
	}
	proxy.WriteError(out, r, 429, msg)
}

// storeFailed answers when the store could not decide: the request passes (fail open), or
// gets a 503 (fail closed). Either way the operator hears of it, at most once a second.
func (l *limiter) storeFailed(out httpx.ResponseWriter, r *httpx.Request, err error) {
	if errors.Is(err, context.Canceled) {
		return // the client left; nobody to answer
	}
	now := time.Now().UnixNano()
	if last := l.lastErrLog.Load(); now-last > int64(time.Second) && l.lastErrLog.CompareAndSwap(last, now) {
		l.log.Warn("rate limit store failed; requests pass unlimited unless the policy fails closed",
			"error", err, "fail_closed", l.failClosed)
	}
	if l.failClosed {
		// the store's error stays in the log: it may name internal addresses
		proxy.WriteError(out, r, 503, "rate limit store unavailable")
		return
	}
	l.next.ServeHTTPX(out, r)
}
