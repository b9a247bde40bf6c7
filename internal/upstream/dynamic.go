package upstream

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"aya/internal/config"
)

// RemovedTargetGrace is how long a target taken out of a pool (admin API, discovery, a reload
// that replaced its pool) keeps its transport for the requests that chose it before; an
// upstream's timeouts end them sooner.
const RemovedTargetGrace = 30 * time.Second

// TargetFactory builds a target, transport included, from its config. The gateway provides
// it, since only the gateway knows how an upstream's timeouts and TLS make a transport.
type TargetFactory func(config.Target) (*Target, error)

// overlay is what the admin API and DNS discovery add to an upstream's file targets. It
// lives in the registry, so a reload keeps it.
type overlay struct {
	added      []config.Target // by the admin API, in order; an added URL replaces a file target
	removed    map[string]bool // URLs the admin API removed
	discovered []config.Target // the last DNS answer
}

// specs merges the file's targets with the overlay: file, then discovered, then added (a
// later one with the same URL replaces an earlier one), minus the removed.
func (o *overlay) specs(file []config.Target) []config.Target {
	var out []config.Target
	at := map[string]int{}
	for _, group := range [][]config.Target{file, o.discovered, o.added} {
		for _, t := range group {
			if o.removed[t.URL] {
				continue
			}
			if i, ok := at[t.URL]; ok {
				out[i] = t
				continue
			}
			at[t.URL] = len(out)
			out = append(out, t)
		}
	}
	return out
}

// sameSpec reports whether a target built from a can serve for b (line numbers aside).
func sameSpec(a, b config.Target) bool {
	a.Line, b.Line = 0, 0
	return a == b
}

// apply makes the pool's targets those of specs: targets whose config is unchanged are kept
// (with their connection pools and counters), new ones are built, and removed ones close
// their idle connections (their requests in flight finish). The change is one atomic swap.
func (p *Pool) apply(specs []config.Target) error {
	if p.factory == nil {
		return errors.New("this pool cannot change its targets")
	}
	p.mu.Lock()
	cur := p.members.Load()
	byURL := map[string]*Target{}
	for _, t := range cur.targets {
		byURL[t.Name] = t
	}
	next := make([]*Target, 0, len(specs))
	var errs []error
	for _, sp := range specs {
		if t := byURL[sp.URL]; t != nil && sameSpec(t.spec, sp) {
			next = append(next, t)
			delete(byURL, sp.URL)
			continue
		}
		t, err := p.factory(sp)
		if err != nil {
			errs = append(errs, fmt.Errorf("target %q: %w", sp.URL, err))
			if old := byURL[sp.URL]; old != nil {
				next = append(next, old) // keep what works
				delete(byURL, sp.URL)
			}
			continue
		}
		t.spec = sp
		if p.up != nil {
			t.State = p.up.state(sp.URL)
		}
		next = append(next, t)
	}
	p.members.Store(p.newMembers(next))
	p.mu.Unlock()
	for _, t := range byURL {
		// Requests that chose the target just before the change are still on their way to it
		// (or about to dial it): its connections close after a grace period, not under them.
		time.AfterFunc(RemovedTargetGrace, t.Transport.Close)
	}
	p.refresh()
	return errors.Join(errs...)
}

// state returns the upstream's state for url, creating it for a target added while aya runs
// (which then slow-starts).
func (us *upstreamState) state(url string) *TargetState {
	us.mu.Lock()
	defer us.mu.Unlock()
	s, ok := us.states[url]
	if !ok {
		s = newTargetState(us, url)
		s.wasUsable.Store(!us.primed)
		us.states[url] = s
	}
	return s
}

// reapply rebuilds the live pool's targets from its file targets and the overlay, then
// starts and stops health checks to match.
func (us *upstreamState) reapply(r *Registry) error {
	us.mu.Lock()
	var p *Pool
	if len(us.pools) > 0 {
		p = us.pools[0]
	}
	var specs []config.Target
	if p != nil {
		specs = us.overlay.specs(p.file)
	}
	us.mu.Unlock()
	if p == nil {
		return nil
	}
	err := p.apply(specs)
	us.activate(r, p)
	return err
}

// AddTarget adds (or, for a URL it has, updates) a target of the live upstream name, for
// the admin API. It is kept across reloads until removed; it is not written to the config
// file.
func (r *Registry) AddTarget(name string, t config.Target) error {
	us, ok := r.live(name)
	if !ok {
		return fmt.Errorf("no upstream named %q", name)
	}
	us.mu.Lock()
	delete(us.overlay.removed, t.URL)
	replaced := false
	for i := range us.overlay.added {
		if us.overlay.added[i].URL == t.URL {
			us.overlay.added[i], replaced = t, true
		}
	}
	if !replaced {
		us.overlay.added = append(us.overlay.added, t)
	}
	us.mu.Unlock()
	return us.reapply(r)
}

// RemoveTarget removes a target of the live upstream name, whichever source it came from,
// for the admin API. It reports false when the upstream has no such target.
func (r *Registry) RemoveTarget(name, url string) (bool, error) {
	us, ok := r.live(name)
	if !ok {
		return false, fmt.Errorf("no upstream named %q", name)
	}
	us.mu.Lock()
	found := false
	if len(us.pools) > 0 {
		for _, t := range us.pools[0].Targets() {
			found = found || t.Name == url
		}
	}
	if !found {
		us.mu.Unlock()
		return false, nil
	}
	if us.overlay.removed == nil {
		us.overlay.removed = map[string]bool{}
	}
	us.overlay.removed[url] = true
	us.overlay.added = slicesDeleteURL(us.overlay.added, url)
	us.mu.Unlock()
	return true, us.reapply(r)
}

func slicesDeleteURL(ts []config.Target, url string) []config.Target {
	out := ts[:0]
	for _, t := range ts {
		if t.URL != url {
			out = append(out, t)
		}
	}
	return out
}

// live returns the state of an upstream that has a live pool.
func (r *Registry) live(name string) (*upstreamState, bool) {
	r.mu.Lock()
	us, ok := r.ups[name]
	r.mu.Unlock()
	if !ok {
		return nil, false
	}
	us.mu.Lock()
	defer us.mu.Unlock()
	return us, len(us.pools) > 0
}

// ConfiguredTargets is upstream name's file targets with the admin API's additions and
// removals, discovered targets left out: what persisting the admin's changes writes to the
// config file.
func (r *Registry) ConfiguredTargets(name string, file []config.Target) []config.Target {
	r.mu.Lock()
	us, ok := r.ups[name]
	r.mu.Unlock()
	if !ok {
		return file
	}
	us.mu.Lock()
	defer us.mu.Unlock()
	o := overlay{added: us.overlay.added, removed: us.overlay.removed}
	return o.specs(file)
}

// AdminChanges is what the admin API changed in an upstream's targets: the targets it added
// (or updated) and the URLs it removed. The gateway saves it so a restart keeps the changes.
type AdminChanges struct {
	Added   []config.Target `json:"added"`
	Removed []string        `json:"removed"`
}

// Changes returns the admin API's changes to upstream name's targets.
func (r *Registry) Changes(name string) AdminChanges {
	r.mu.Lock()
	us, ok := r.ups[name]
	r.mu.Unlock()
	var c AdminChanges
	if !ok {
		return c
	}
	us.mu.Lock()
	defer us.mu.Unlock()
	c.Added = append(c.Added, us.overlay.added...)
	for url := range us.overlay.removed {
		c.Removed = append(c.Removed, url)
	}
	slices.Sort(c.Removed)
	return c
}

// RestoreChanges sets upstream name's admin changes, before its pool is built (at start,
// from the saved state); the next Pool for name applies them.
func (r *Registry) RestoreChanges(name string, c AdminChanges) {
	us := r.upstream(name)
	us.mu.Lock()
	defer us.mu.Unlock()
	us.overlay.added = append([]config.Target(nil), c.Added...)
	us.overlay.removed = nil
	if len(c.Removed) > 0 {
		us.overlay.removed = make(map[string]bool, len(c.Removed))
		for _, url := range c.Removed {
			us.overlay.removed[url] = true
		}
	}
}
