// Package upstream holds upstream pools: their targets, the transport that reaches each
// target, the balancer that picks among them, and what keeps traffic off bad targets: active
// health checks, passive outlier detection, circuit breakers, and the retry policy the proxy
// follows. It knows nothing of routes or policies; the proxy asks a pool for a target, uses
// the target's transport and tells the pool how the exchange went.
package upstream

import (
	"context"
	"crypto/tls"
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
	byBalance map[*balance.Target]*Target
	settings  settings
	up        *upstreamState // nil for a pool outside a Registry

	mu   sync.Mutex // serializes refresh
	prev []*balance.Target
}

// settings are the parts of an upstream's config the pool acts on.
type settings struct {
	panicThreshold float64
	health         *config.Health
}

// NewPool builds a pool over targets, outside any Registry: its targets' state is its own and
// no health checks run. Gateways use Registry.Pool.
func NewPool(name string, b balance.Balancer, targets []*Target) *Pool {
	return newPool(name, b, targets, settings{}, nil)
}

func newPool(name string, b balance.Balancer, targets []*Target, s settings, up *upstreamState) *Pool {
	p := &Pool{Name: name, Targets: targets, balancer: b, settings: s, up: up,
		byBalance: make(map[*balance.Target]*Target, len(targets))}
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
	bt := p.balancer.Pick(r, *p.available.Load())
	if bt == nil {
		return nil
	}
	return p.byBalance[bt]
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
	for _, t := range p.Targets {
		if t.State.usable() {
			next = append(next, t.Balance)
		}
	}
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
