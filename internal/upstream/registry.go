package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"aya/internal/balance"
	"aya/internal/config"
)

// Registry keeps target state across configs and runs the background work of the live
// config: one health checker per target. Pools are built beside the running ones (Pool) and
// take effect with Activate once the config that holds them is swapped in, so a config that
// fails to build starts nothing.
type Registry struct {
	log    *slog.Logger
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // background goroutines, waited for by Close

	mu  sync.Mutex
	ups map[string]*upstreamState
}

// upstreamState is the long-lived part of one named upstream.
type upstreamState struct {
	name string
	log  *slog.Logger

	mu       sync.Mutex
	states   map[string]*TargetState // by target URL
	pools    []*Pool                 // the live pools, refreshed when a state changes
	checkers map[string]*checker     // by target URL
	sweeper  *sweeper                // nil without outlier detection
	ramp     *time.Timer             // refreshes the pools when slow-start windows end
	primed   bool                    // a pool was built: targets added later slow-start
	overlay  overlay                 // admin-added/removed and DNS-discovered targets
	resolver *resolver               // nil without DNS discovery
	files    *fileSource             // nil without file discovery
	shed     *limiter                // load shedding's limit, kept while its config is unchanged
	shedCfg  config.LoadShedding
}

// NewRegistry returns an empty registry. Close stops what Activate started.
func NewRegistry(log *slog.Logger) *Registry {
	if log == nil {
		log = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Registry{log: log, ctx: ctx, cancel: cancel, ups: map[string]*upstreamState{}}
}

func (r *Registry) upstream(name string) *upstreamState {
	r.mu.Lock()
	defer r.mu.Unlock()
	us, ok := r.ups[name]
	if !ok {
		us = &upstreamState{name: name, log: r.log.With("upstream", name), states: map[string]*TargetState{}, checkers: map[string]*checker{}}
		r.ups[name] = us
	}
	return us
}

// Pool builds the pool of upstream u: the file's targets, with the targets the admin API
// added or removed and those DNS discovery found, each built by factory and given the state
// the registry keeps for (u.Name, target URL): a target that was down in the previous config
// is still down in this one. Nothing runs until Activate.
func (r *Registry) Pool(u *config.Upstream, newBalancer func() balance.Balancer, factory TargetFactory) (*Pool, error) {
	us := r.upstream(u.Name)
	us.mu.Lock()
	if d := u.Discovery; d != nil && d.File != nil && us.files == nil {
		// Read the targets file now, so the first config serves its targets from the start;
		// the watcher Activate starts keeps them current.
		if data, err := readTargets(d.File.Path); err == nil {
			if specs, err := parseTargetFiles(d.File.Path, data); err == nil {
				us.overlay.discovered = specs
			}
		}
	}
	specs := us.overlay.specs(u.Targets)
	us.mu.Unlock()
	targets := make([]*Target, 0, len(specs))
	for _, sp := range specs {
		t, err := factory(sp)
		if err != nil {
			return nil, fmt.Errorf("target %q: %w", sp.URL, err)
		}
		t.spec = sp
		targets = append(targets, t)
	}
	us.attach(targets)
	p := newPool(u.Name, newBalancer, targets, settingsOf(u), us)
	p.factory, p.file = factory, u.Targets
	return p, nil
}

// poolOver builds a registry pool over ready-made targets (tests, and callers without
// target configs).
func (r *Registry) poolOver(u *config.Upstream, newBalancer func() balance.Balancer, targets []*Target) *Pool {
	us := r.upstream(u.Name)
	us.attach(targets)
	return newPool(u.Name, newBalancer, targets, settingsOf(u), us)
}

// Activate makes pools the live ones, one per upstream: their state changes refresh them,
// health checks start for targets that had none and stop for targets no pool holds any more
// (a target whose check config is unchanged keeps its checker and its rhythm), and the state
// of targets and upstreams that left is forgotten.
func (r *Registry) Activate(pools []*Pool) {
	live := make(map[string]*Pool, len(pools))
	for _, p := range pools {
		live[p.Name] = p
	}
	r.mu.Lock()
	ups := make(map[string]*upstreamState, len(r.ups))
	for name, us := range r.ups {
		ups[name] = us
		if live[name] == nil {
			delete(r.ups, name)
		}
	}
	r.mu.Unlock()
	for name, us := range ups {
		us.activate(r, live[name])
	}
}

func (us *upstreamState) activate(r *Registry, p *Pool) {
	us.mu.Lock()
	defer us.mu.Unlock()
	want := map[string]*Target{}
	us.pools = us.pools[:0]
	if p != nil {
		us.pools = append(us.pools, p)
		for _, t := range p.Targets() {
			want[t.Name] = t
		}
	}
	for url := range us.states {
		if want[url] == nil {
			delete(us.states, url)
		}
	}
	var (
		health  *config.Health
		outlier *config.Outlier
	)
	if p != nil {
		health, outlier = p.settings.health, p.settings.outlier
		for _, t := range p.Targets() {
			t.State.breaker.configure(p.settings.breaker)
		}
	}
	if us.sweeper != nil && (outlier == nil || !reflect.DeepEqual(us.sweeper.cfg, *outlier)) {
		us.sweeper.cancel()
		us.sweeper = nil
	}
	if outlier != nil && us.sweeper == nil {
		us.sweeper = startSweeper(r.ctx, &r.wg, us, *outlier)
	}
	var dns *config.DNSDiscovery
	if p != nil && p.settings.discovery != nil {
		dns = p.settings.discovery
	}
	if us.resolver != nil && (dns == nil || *dns != us.resolver.cfg) {
		us.resolver.cancel()
		us.resolver = nil
	}
	if dns != nil && us.resolver == nil {
		us.resolver = startResolver(r, us, *dns)
	}
	var file *config.FileDiscovery
	if p != nil && p.settings.discoveryFile != nil {
		file = p.settings.discoveryFile
	}
	if us.files != nil && (file == nil || *file != us.files.cfg) {
		us.files.cancel()
		us.files = nil
	}
	if file != nil && us.files == nil {
		us.files = startFileSource(r, us, *file)
	}
	for url, c := range us.checkers {
		t := want[url]
		if t == nil || health == nil || !reflect.DeepEqual(c.cfg, *health) {
			c.stop()
			delete(us.checkers, url)
			continue
		}
		c.target.Store(t)
	}
	if health == nil {
		return
	}
	for url, t := range want {
		if us.checkers[url] == nil {
			us.checkers[url] = startChecker(r.ctx, &r.wg, us.log.With("target", url), *health, t, us.changed)
		}
	}
}

// rampUntilDone refreshes p once the current slow-start windows are over, so the view stops
// checking ramp factors.
func (us *upstreamState) rampUntilDone(p *Pool, window time.Duration) {
	us.mu.Lock()
	defer us.mu.Unlock()
	if us.ramp != nil {
		us.ramp.Stop()
	}
	us.ramp = time.AfterFunc(window, p.refresh)
}

// changed refreshes the live pools after a target's state changed.
func (us *upstreamState) changed() {
	us.mu.Lock()
	pools := slices.Clone(us.pools)
	us.mu.Unlock()
	for _, p := range pools {
		p.refresh()
	}
}

// Close stops every checker and waits for them.
func (r *Registry) Close() {
	r.cancel()
	r.wg.Wait()
}

// attach gives each target its state, kept by URL across reloads (a new URL gets a fresh one).
// Targets of the first config are not slow-started: at boot there is nothing else to send
// traffic to.
func (us *upstreamState) attach(targets []*Target) {
	us.mu.Lock()
	defer us.mu.Unlock()
	for _, t := range targets {
		s, ok := us.states[t.Name]
		if !ok {
			s = newTargetState(us, t.Name)
			s.wasUsable.Store(!us.primed)
			us.states[t.Name] = s
		}
		t.State = s
	}
	us.primed = true
}
