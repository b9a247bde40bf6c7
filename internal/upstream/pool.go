// Package upstream holds upstream pools: their targets, the transport that reaches each target,
// and the balancer that picks among them. It knows nothing of routes or policies; the proxy asks
// a pool for a target and uses the target's transport.
package upstream

import (
	"context"
	"sync/atomic"

	"aya/internal/balance"
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
	Host      string
	Protocol  string // "h1" or "h2"
	Balance   *balance.Target
	Transport Transport
}

// Pool is a named set of targets and the balancer that chooses among them.
type Pool struct {
	Name    string
	Targets []*Target

	balancer balance.Balancer
	// available is the set the balancer chooses from. It is one slice, replaced (never edited)
	// when the set changes, so balancers may cache tables keyed on its identity.
	available atomic.Pointer[[]*balance.Target]
	byBalance map[*balance.Target]*Target
}

// NewPool builds a pool over targets with every target available.
func NewPool(name string, b balance.Balancer, targets []*Target) *Pool {
	p := &Pool{Name: name, Targets: targets, balancer: b, byBalance: make(map[*balance.Target]*Target, len(targets))}
	avail := make([]*balance.Target, len(targets))
	for i, t := range targets {
		avail[i] = t.Balance
		p.byBalance[t.Balance] = t
	}
	p.available.Store(&avail)
	return p
}

// Pick chooses a target for r, or nil when none is available.
func (p *Pool) Pick(r *httpx.Request) *Target {
	avail := *p.available.Load()
	bt := p.balancer.Pick(r, avail)
	if bt == nil {
		return nil
	}
	return p.byBalance[bt]
}

// Close releases every target's idle connections.
func (p *Pool) Close() {
	for _, t := range p.Targets {
		t.Transport.Close()
	}
}
