package upstream

import (
	"math/rand/v2"
	"strconv"
	"time"

	"aya/internal/config"
	"aya/internal/httpx"
)

// Cond is why a try failed, in the terms of a retry policy's conditions.
type Cond uint8

const (
	CondNone    Cond = iota
	CondConnect      // no connection: nothing was sent
	CondReset        // the connection broke before the response head, or the head was malformed
	CondTimeout      // the per-try or response-header timeout passed
	CondStatus       // the target answered with a retriable status
)

const (
	// budgetWindow is how far back the retry budget looks (in windowBuckets buckets).
	budgetWindow = 10 * time.Second
	// minRetriesPerSecond is the floor of the retry budget, so that a quiet upstream still
	// retries (as in Finagle's RetryBudget).
	minRetriesPerSecond = 3
	// defaultBudget is the retry budget when none is configured: retries never exceed half
	// of the requests, which no working upstream reaches and which stops a retry storm from
	// more than doubling the load on a failing one.
	defaultBudget = 0.5
)

// RetryPolicy is an upstream's retry config, compiled for the request path.
type RetryPolicy struct {
	// Attempts is how many retries may follow the first try.
	Attempts      int
	PerTryTimeout time.Duration // 0: none
	// MaxBody is the largest request body kept for replay.
	MaxBody int64

	onConnect, onReset, onTimeout, on5xx bool
	status                               [4]uint64 // bit s-400 for statuses 400..599
	backoff, maxBackoff                  time.Duration
	budget                               float64
}

func newRetryPolicy(c config.Retries) *RetryPolicy {
	if c.Attempts <= 0 {
		return nil
	}
	rp := &RetryPolicy{Attempts: c.Attempts, PerTryTimeout: c.PerTryTimeout.D(), MaxBody: int64(c.MaxBody),
		backoff: c.Backoff.D(), maxBackoff: c.MaxBackoff.D(), budget: defaultBudget}
	if c.Budget != nil {
		rp.budget = float64(*c.Budget)
	}
	for _, on := range c.On {
		switch on {
		case config.RetryConnectError:
			rp.onConnect = true
		case config.RetryReset:
			rp.onReset = true
		case config.RetryTimeout:
			rp.onTimeout = true
		case config.Retry5xx:
			rp.on5xx = true
		default:
			if code, err := strconv.Atoi(on); err == nil {
				rp.setStatus(code)
			}
		}
	}
	for _, code := range c.RetriableStatus {
		rp.setStatus(code)
	}
	return rp
}

func (rp *RetryPolicy) setStatus(code int) {
	if code >= 400 && code <= 599 {
		rp.status[(code-400)/64] |= 1 << ((code - 400) % 64)
	}
}

// RetriesStatus reports whether an answer with status may be retried.
func (rp *RetryPolicy) RetriesStatus(status int) bool {
	if status < 400 || status > 599 {
		return false
	}
	return rp.on5xx && status >= 500 || rp.status[(status-400)/64]&(1<<((status-400)%64)) != 0
}

// Allows reports whether a try that failed for c may be retried, given whether the request
// may be repeated (idempotent, or the route opted in). A connect failure is retried whatever
// the method: nothing reached the target.
func (rp *RetryPolicy) Allows(c Cond, repeatable bool) bool {
	switch c {
	case CondConnect:
		return rp.onConnect
	case CondReset:
		return rp.onReset && repeatable
	case CondTimeout:
		return rp.onTimeout && repeatable
	case CondStatus:
		return repeatable
	}
	return false
}

// Backoff is the wait before retry n (1 for the first): a random time up to
// backoff × 2^(n-1), capped at max_backoff ("full jitter"), so retries of many clients that
// failed together do not arrive together.
func (rp *RetryPolicy) Backoff(n int) time.Duration {
	ceil := rp.backoff << min(n-1, 20)
	if ceil <= 0 || ceil > rp.maxBackoff {
		ceil = rp.maxBackoff
	}
	if ceil <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceil) + 1))
}

// Idempotent reports whether a method may be sent twice without a different effect
// (RFC 9110 9.2.2).
func Idempotent(method string) bool {
	switch method {
	case "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE":
		return true
	}
	return false
}

// Retry returns the pool's retry policy, nil when retries are off.
func (p *Pool) Retry() *RetryPolicy { return p.retry }

// BeginRetry takes a place in the retry budget for one retry, or reports that the budget is
// spent: over the last 10 seconds, retries may not exceed the budget's share of the requests,
// plus 3 per second. The budget counts rates rather than retries in flight, because a retry
// waiting out its backoff lasts far longer than a request and would crowd a concurrency
// count.
func (p *Pool) BeginRetry() bool {
	const span = int64(budgetWindow / windowBuckets)
	now := nanotime()
	requests, retries := p.tries.sum(now, span)
	requests -= retries
	if float64(retries+1) > p.retry.budget*float64(requests)+minRetriesPerSecond*budgetWindow.Seconds() {
		return false
	}
	p.tries.add(now, span, true)
	return true
}

// Repick chooses a target for a retry of r: one not in tried when the pool has one to offer
// (the balancer's choice if it offers one, else the first untried from a random start, else
// a usable target that takes no load now: a lower priority or a backup), or any available
// target when every one was tried. nil when none is available.
func (p *Pool) Repick(r *httpx.Request, tried []*Target) *Target {
	v := p.view.Load()
	if len(v.choices) == 0 {
		return nil
	}
	c := v.choose()
	for range 2 {
		t := v.pickFrom(c, r)
		if t == nil || !contains(tried, t) && (!v.gated || !t.State.gated() || t.State.admit(nanotime())) {
			return t
		}
	}
	if t := p.firstUntried(v, c, tried, nil); t != nil {
		return t
	}
	now := nanotime()
	for _, t := range v.spare {
		if !contains(tried, t) && (!t.State.gated() || t.State.admit(now)) {
			return t
		}
	}
	return p.Pick(r)
}

func contains(ts []*Target, t *Target) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}
