// Package upstream holds upstream pools: their targets, the transport that reaches each
// target, the balancer that picks among them, and what keeps traffic off bad targets: active
// health checks, passive outlier detection, circuit breakers, and the retry policy the proxy
// follows. It knows nothing of routes or policies; the proxy asks a pool for a target, uses
// the target's transport and tells the pool how the exchange went.
package upstream

import (
	"context"
	"crypto/tls"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"aya/internal/balance"
	"aya/internal/config"
	"aya/internal/httpx"
)

// Transport performs one request/response exchange with one target. The h1 pooled client and
// the HTTP/2 transport both satisfy it.
type Transport interface {
	Do(ctx context.Context, req *httpx.Request, resp *httpx.Response) error
	// Close releases idle connections; exchanges in flight finish normally.
	Close()
}

// Target is one upstream server with its live counters and its transport.
type Target struct {
	// Name is the target URL as configured; it identifies the target across reloads.
	Name string
	// Host is the target's host:port, used as the Host header unless the host is preserved.
	Host     string
	Protocol string // "h1" or "h2"
	// Scheme ("http", "https" or "h2c"), Addr (host:port to dial) and TLS (nil for cleartext)
	// tell health checks how to reach the target on their own.
	Scheme    string
	Addr      string
	TLS       *tls.Config
	Balance   *balance.Target
	Transport Transport
	// State is the target's health, ejection and breaker state, shared with the pools built
	// for the same target by earlier and later configs.
	State *TargetState
}

// Pool is a named set of targets and the balancer that chooses among them.
type Pool struct {
	Name    string
	Targets []*Target

	balancer balance.Balancer
	// available is the set the balancer chooses from: the usable targets, or every target in
	// panic mode. It is one slice, replaced (never edited) when the set changes, so balancers
	// may cache tables keyed on its identity.
	available atomic.Pointer[[]*balance.Target]
	panicking atomic.Bool
	// gated is set while some available target needs a permit per request (a half-open
	// breaker), so that Pick checks permits only then.
	gated     atomic.Bool
	byBalance map[*balance.Target]*Target
	settings  settings
	up        *upstreamState // nil for a pool outside a Registry

	// The upstream's own breaker and caps (nil/0: none), and its live request counts.
	breaker Breaker
	active  atomic.Int64 // client requests admitted and not yet released
	pending atomic.Int64 // tries waiting for a response head

	retry *RetryPolicy // nil: no retries
	tries window       // requests (total) and retries (failed) over the budget window

	mu   sync.Mutex // serializes refresh
	prev []*balance.Target
}

// settings are the parts of an upstream's config the pool acts on.
type settings struct {
	panicThreshold float64
	health         *config.Health
	outlier        *config.Outlier
	breaker        *config.CircuitBreaker
	retries        config.Retries
}

func settingsOf(u *config.Upstream) settings {
	return settings{panicThreshold: float64(u.PanicThreshold), health: u.Health, outlier: u.Outlier,
		breaker: u.CircuitBreaker, retries: u.Retries}
}

// NewPool builds a pool over targets, outside any Registry: its targets' state is its own and
// no health checks run. Gateways use Registry.Pool.
func NewPool(name string, b balance.Balancer, targets []*Target) *Pool {
	return newPool(name, b, targets, settings{}, nil)
}

func newPool(name string, b balance.Balancer, targets []*Target, s settings, up *upstreamState) *Pool {
	p := &Pool{Name: name, Targets: targets, balancer: b, settings: s, up: up,
		byBalance: make(map[*balance.Target]*Target, len(targets))}
	p.breaker.configure(s.breaker)
	p.retry = newRetryPolicy(s.retries)
	for _, t := range targets {
		p.byBalance[t.Balance] = t
		if t.State == nil {
			t.State = newTargetState(up, t.Name)
		}
	}
	p.refresh()
	return p
}

// Pick chooses a target for r, or nil when none is available.
func (p *Pool) Pick(r *httpx.Request) *Target {
	avail := *p.available.Load()
	bt := p.balancer.Pick(r, avail)
	if bt == nil {
		return nil
	}
	t := p.byBalance[bt]
	if !p.gated.Load() || !t.State.gated() || t.State.admit(nanotime()) {
		return t
	}
	return p.firstAdmitted(avail, t)
}

// firstAdmitted is Pick's slow path when the balancer chose a half-open target that has no
// probe permit left: the first other target, from a random start, that admits a request.
func (p *Pool) firstAdmitted(avail []*balance.Target, skip *Target) *Target {
	now := nanotime()
	start := rand.IntN(len(avail))
	for i := range avail {
		t := p.byBalance[avail[(start+i)%len(avail)]]
		if t != skip && (!t.State.gated() || t.State.admit(now)) {
			return t
		}
	}
	return nil
}

// Panicking reports whether the pool balances over every target because too few are usable.
func (p *Pool) Panicking() bool { return p.panicking.Load() }

// refresh recomputes the available set from the targets' states. It reuses the current or
// the previous slice when the set equals one of them, so a target flapping in and out costs
// the balancers no table rebuild.
func (p *Pool) refresh() {
	p.mu.Lock()
	defer p.mu.Unlock()
	next := make([]*balance.Target, 0, len(p.Targets))
	gated := false
	for _, t := range p.Targets {
		if t.State.usable() {
			next = append(next, t.Balance)
			gated = gated || t.State.gated()
		}
	}
	p.gated.Store(gated)
	panicking := len(p.Targets) > 0 && float64(len(next)) < p.settings.panicThreshold*float64(len(p.Targets))
	if panicking {
		// Envoy's panic mode: when most targets look bad, the checks are as likely wrong as
		// the targets, and piling every request on the few left would take them down too.
		next = next[:0]
		for _, t := range p.Targets {
			next = append(next, t.Balance)
		}
	}
	p.panicking.Store(panicking)
	cur := p.available.Load()
	switch {
	case cur != nil && slices.Equal(*cur, next):
		return
	case p.prev != nil && slices.Equal(p.prev, next):
		next = p.prev
	}
	if cur != nil {
		p.prev = *cur
	}
	p.available.Store(&next)
}

// Close releases every target's idle connections.
func (p *Pool) Close() {
	for _, t := range p.Targets {
		t.Transport.Close()
	}
}
