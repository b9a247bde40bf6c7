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
	"sync"
	"sync/atomic"
	"time"

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
	spec      config.Target // the config it was built from, to tell whether a new config changes it
	// Placement: lower priorities are preferred (spilling over as they lose targets), backups
	// take requests only when no other target is usable, and targets in the pool's own zone
	// are preferred within a priority.
	Priority int
	Backup   bool
	Zone     string
	// State is the target's health, ejection and breaker state, shared with the pools built
	// for the same target by earlier and later configs.
	State *TargetState
}

// Pool is a named set of targets and the balancers that choose among them.
type Pool struct {
	Name string

	// members is the target set; dynamic targets and DNS discovery replace it whole.
	members atomic.Pointer[members]
	// view says which target slices take requests now, each with its balancer. The slices
	// are replaced (never edited) when the set changes, so balancers may cache tables keyed
	// on their identity.
	view        atomic.Pointer[view]
	newBalancer func() balance.Balancer
	factory     TargetFactory   // nil: the target set is fixed
	file        []config.Target // the targets the config file lists
	settings    settings
	up          *upstreamState // nil for a pool outside a Registry

	// The upstream's own breaker and caps (nil/0: none), and its live request counts.
	breaker Breaker
	active  atomic.Int64 // client requests admitted and not yet released
	pending atomic.Int64 // tries waiting for a response head

	retry *RetryPolicy // nil: no retries
	shed  *limiter     // nil: no load shedding
	tries window       // requests (total) and retries (failed) over the budget window

	mu sync.Mutex // serializes refresh
}

// settings are the parts of an upstream's config the pool acts on.
type settings struct {
	panicThreshold float64
	health         *config.Health
	outlier        *config.Outlier
	breaker        *config.CircuitBreaker
	retries        config.Retries
	zone           string
	zoneMinHealthy float64
	sticky         *config.StickyCookie
	slowStart      time.Duration
	discovery      *config.DNSDiscovery
	discoveryFile  *config.FileDiscovery
	shedding       *config.LoadShedding
}

func settingsOf(u *config.Upstream) settings {
	s := settings{panicThreshold: float64(u.PanicThreshold), health: u.Health, outlier: u.Outlier,
		breaker: u.CircuitBreaker, retries: u.Retries, shedding: u.LoadShedding}
	if l := u.Locality; l != nil {
		s.zone, s.zoneMinHealthy = l.Zone, float64(l.MinHealthy)
	}
	if u.Sticky != nil {
		s.sticky = u.Sticky.Cookie
	}
	if u.Discovery != nil {
		s.discovery, s.discoveryFile = u.Discovery.DNS, u.Discovery.File
	}
	switch u.Balance {
	case config.BalanceIPHash, config.BalanceConsistentHash, config.BalanceMaglev:
		// A hash algorithm's clients must keep their target; slow start would move them.
	default:
		s.slowStart = u.SlowStart.D()
	}
	return s
}

// NewPool builds a pool over targets, outside any Registry: its targets' state is its own and
// no health checks run. Gateways use Registry.Pool.
func NewPool(name string, newBalancer func() balance.Balancer, targets []*Target) *Pool {
	return newPool(name, newBalancer, targets, settings{}, nil)
}

func newPool(name string, newBalancer func() balance.Balancer, targets []*Target, s settings, up *upstreamState) *Pool {
	p := &Pool{Name: name, settings: s, up: up, newBalancer: newBalancer}
	p.breaker.configure(s.breaker)
	p.retry = newRetryPolicy(s.retries)
	if s.shedding != nil {
		p.shed = up.limiter(s.shedding)
	}
	p.mu.Lock()
	p.members.Store(p.newMembers(targets))
	p.mu.Unlock()
	p.refresh()
	return p
}

// members is one target set with what is derived from it.
type members struct {
	targets    []*Target
	levels     []*level
	panicGroup group
	byBalance  map[*balance.Target]*Target
	sticky     *sticky // nil: no session affinity
}

func (p *Pool) newMembers(targets []*Target) *members {
	m := &members{targets: targets, byBalance: make(map[*balance.Target]*Target, len(targets))}
	for _, t := range targets {
		m.byBalance[t.Balance] = t
		if t.State == nil {
			t.State = newTargetState(p.up, t.Name)
		}
	}
	m.levels = buildLevels(targets, p.newBalancer, p.settings.zone)
	m.panicGroup.balancer = p.newBalancer()
	if p.settings.sticky != nil {
		m.sticky = newSticky(p.settings.sticky, targets)
	}
	return m
}

// Targets lists the pool's targets now.
func (p *Pool) Targets() []*Target { return p.members.Load().targets }

// Pick chooses a target for r, or nil when none is available.
func (p *Pool) Pick(r *httpx.Request) *Target {
	v := p.view.Load()
	if len(v.choices) == 0 {
		return nil
	}
	c := v.choose()
	t := v.pickFrom(c, r)
	if v.ramping {
		t = p.ramped(v, c, r, t)
	}
	if t == nil || !v.gated || !t.State.gated() || t.State.admit(nanotime()) {
		return t
	}
	return p.firstUntried(v, c, nil, t)
}

// firstUntried is the slow path of Pick and Repick: the first target, from a random start in
// c and then the other groups, that is neither skip nor in tried and admits a request.
func (p *Pool) firstUntried(v *view, c *choice, tried []*Target, skip *Target) *Target {
	now := nanotime()
	try := func(c *choice) *Target {
		if len(c.targets) == 0 {
			return nil
		}
		start := rand.IntN(len(c.targets))
		for i := range c.targets {
			t := v.m.byBalance[c.targets[(start+i)%len(c.targets)]]
			if t != skip && !contains(tried, t) && (!t.State.gated() || t.State.admit(now)) {
				return t
			}
		}
		return nil
	}
	if t := try(c); t != nil {
		return t
	}
	for i := range v.choices {
		if o := &v.choices[i]; o != c {
			if t := try(o); t != nil {
				return t
			}
		}
	}
	return nil
}

// Panicking reports whether the pool balances over every target because too few are usable.
func (p *Pool) Panicking() bool { return p.view.Load().panicking }

// refresh recomputes the view from the targets' states.
func (p *Pool) refresh() {
	p.mu.Lock()
	defer p.mu.Unlock()
	v := p.computeView()
	if p.settings.slowStart > 0 {
		v.ramping = p.markUsable(nanotime())
		if v.ramping && p.up != nil {
			p.up.rampUntilDone(p, p.settings.slowStart)
		}
	}
	p.view.Store(v)
}

// Close releases every target's idle connections.
func (p *Pool) Close() {
	for _, t := range p.Targets() {
		t.Transport.Close()
	}
}
