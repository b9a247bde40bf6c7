package upstream

import (
	"cmp"
	"math/rand/v2"
	"slices"

	"aya/internal/balance"
	"aya/internal/httpx"
)

// overprovisioning is Envoy's overprovisioning factor: a priority level keeps all its load
// until fewer than 1/1.4 (71%) of its targets are usable, then sheds the missing share to the
// next level.
const overprovisioning = 1.4

// group is one set of targets with its own balancer: the usable targets of a priority level
// (all zones, or the local zone only), or every primary target for panic mode. A balancer
// keeps tables per target slice, so each group has its own, and spilling between groups never
// makes one rebuild.
type group struct {
	targets  []*Target
	balancer balance.Balancer
	cur      []*balance.Target
	prev     []*balance.Target
}

// set returns the slice to pass the balancer for the given members: the current or previous
// one when the members are the same (a flapping target swaps between two slices), else next.
func (g *group) set(next []*balance.Target) []*balance.Target {
	switch {
	case g.cur != nil && slices.Equal(g.cur, next):
		return g.cur
	case g.prev != nil && slices.Equal(g.prev, next):
		next = g.prev
	}
	if g.cur != nil {
		g.prev = g.cur
	}
	g.cur = next
	return next
}

// level is one priority: targets with the same priority, or the backups.
type level struct {
	priority int
	backup   bool
	all      group // the level's usable targets
	local    group // the usable targets in the pool's zone; unused without a zone
}

// choice is one group a request may go to, taking load up to its cumulative share.
type choice struct {
	targets  []*balance.Target
	balancer balance.Balancer
	upTo     float64
}

// view is what Pick reads: the groups that take load now. One atomic load gets all of it.
type view struct {
	m         *members // the target set the view was computed from
	choices   []choice
	panicking bool
	// gated is set while some target in the view needs a permit per request (a half-open
	// breaker), so that Pick checks permits only then.
	gated bool
	// ramping is set while some target is in its slow-start window.
	ramping bool
	// spare are usable targets that take no load now (lower priorities, backups): a retry
	// goes there when every target taking load was tried.
	spare []*Target
}

// buildLevels sorts targets into priority levels, backups last.
func buildLevels(targets []*Target, newBalancer func() balance.Balancer, zone string) []*level {
	var levels []*level
	find := func(prio int, backup bool) *level {
		for _, l := range levels {
			if l.priority == prio && l.backup == backup {
				return l
			}
		}
		l := &level{priority: prio, backup: backup, all: group{balancer: newBalancer()}, local: group{balancer: newBalancer()}}
		levels = append(levels, l)
		return l
	}
	for _, t := range targets {
		prio := t.Priority
		if t.Backup {
			prio = 0
		}
		l := find(prio, t.Backup)
		l.all.targets = append(l.all.targets, t)
		if zone != "" && t.Zone == zone {
			l.local.targets = append(l.local.targets, t)
		}
	}
	slices.SortStableFunc(levels, func(a, b *level) int {
		if a.backup != b.backup {
			if a.backup {
				return 1
			}
			return -1
		}
		return cmp.Compare(a.priority, b.priority)
	})
	return levels
}

// computeView decides where requests go, from the targets' states:
//
//   - Priority levels share the load Envoy's way: a level takes min(100%, 1.4 × its usable
//     share) of what the levels before it left; what no level can take is spread over them in
//     proportion.
//   - Backups take requests only when no primary target is usable (HAProxy's backup).
//   - Below the panic threshold of usable primaries (and with no usable backup to fall back
//     on), every primary takes requests, usable or not.
//   - Within a level, requests stay in the pool's zone while at least min_healthy of the
//     zone's targets are usable.
func (p *Pool) computeView() *view {
	m := p.members.Load()
	v := p.placeView(m)
	v.m = m
	chosen := map[*balance.Target]bool{}
	for _, c := range v.choices {
		for _, bt := range c.targets {
			chosen[bt] = true
		}
	}
	for _, l := range m.levels {
		for _, t := range l.all.targets {
			if !chosen[t.Balance] && t.State.usable() {
				v.spare = append(v.spare, t)
			}
		}
	}
	return v
}

func (p *Pool) placeView(m *members) *view {
	v := &view{}
	usable := func(g *group) []*balance.Target {
		next := make([]*balance.Target, 0, len(g.targets))
		for _, t := range g.targets {
			if t.State.usable() {
				next = append(next, t.Balance)
				v.gated = v.gated || t.State.gated()
			}
		}
		return next
	}
	pick := func(l *level, upTo float64) choice {
		all := l.all.set(usable(&l.all))
		if len(l.local.targets) > 0 {
			local := usable(&l.local)
			if len(local) > 0 && float64(len(local)) >= p.settings.zoneMinHealthy*float64(len(l.local.targets)) {
				return choice{targets: l.local.set(local), balancer: l.local.balancer, upTo: upTo}
			}
		}
		return choice{targets: all, balancer: l.all.balancer, upTo: upTo}
	}

	type share struct {
		l      *level
		health float64
	}
	var primaries []share
	up, total := 0, 0
	var backups []*level
	for _, l := range m.levels {
		if l.backup {
			backups = append(backups, l)
			continue
		}
		n, size := 0, 0
		for _, t := range l.all.targets {
			if t.State.draining.Load() {
				continue // leaving on purpose: not a loss of capacity to react to
			}
			size++
			if t.State.usable() {
				n++
			}
		}
		up += n
		total += size
		primaries = append(primaries, share{l, float64(n) / float64(max(size, 1))})
	}

	if up == 0 {
		for _, l := range backups {
			if c := pick(l, 1); len(c.targets) > 0 {
				v.choices = []choice{c}
				return v
			}
		}
	}
	if total > 0 && float64(up) < p.settings.panicThreshold*float64(total) {
		// Envoy's panic mode: when most targets look bad, the checks are as likely wrong as
		// the targets, and piling every request on the few left would take them down too.
		all := make([]*balance.Target, 0, total)
		for _, s := range primaries {
			for _, t := range s.l.all.targets {
				if !t.State.draining.Load() {
					all = append(all, t.Balance)
				}
			}
		}
		v.panicking = true
		v.choices = []choice{{targets: m.panicGroup.set(all), balancer: m.panicGroup.balancer, upTo: 1}}
		return v
	}

	left := 1.0
	for _, s := range primaries {
		load := min(left, overprovisioning*s.health)
		if load <= 0 {
			continue
		}
		left -= load
		v.choices = append(v.choices, pick(s.l, 1-left))
	}
	if n := len(v.choices); n > 0 && left > 0 {
		// Degraded everywhere: spread all the load in proportion to what each level took.
		taken := 1 - left
		for i := range v.choices {
			v.choices[i].upTo /= taken
		}
		v.choices[n-1].upTo = 1
	}
	return v
}

// choose returns the group a request goes to.
func (v *view) choose() *choice {
	if len(v.choices) == 1 {
		return &v.choices[0]
	}
	x := rand.Float64()
	for i := range v.choices {
		if x < v.choices[i].upTo {
			return &v.choices[i]
		}
	}
	return &v.choices[len(v.choices)-1]
}

// pickFrom asks c's balancer for a target of r.
func (v *view) pickFrom(c *choice, r *httpx.Request) *Target {
	bt := c.balancer.Pick(r, c.targets)
	if bt == nil {
		return nil
	}
	return v.m.byBalance[bt]
}
