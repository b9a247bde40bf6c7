package upstream

import (
	"math/rand/v2"

	"aya/internal/httpx"
)

// minSlowStart is the share of its normal traffic a target gets at the start of its ramp
// (Envoy's min_weight_percent default), so that it is probed from the first second.
const minSlowStart = 0.1

// rampFactor is the share of its normal traffic t may take at now: from 10% when it became
// usable, growing linearly to 100% at the end of the slow-start window.
func (p *Pool) rampFactor(t *Target, now int64) float64 {
	since := t.State.usableSince.Load()
	if w := int64(p.settings.slowStart); since != 0 && now-since < w {
		elapsed := now - since
		return max(minSlowStart, float64(elapsed)/float64(w))
	}
	return 1
}

// ramped applies slow start to a target the balancer chose: a target still ramping up keeps
// the request with probability equal to its ramp factor, else the balancer is asked once
// more. Asking again rather than scaling weights works with every algorithm and keeps the
// balancers' tables untouched while the factor changes.
func (p *Pool) ramped(v *view, c *choice, r *httpx.Request, t *Target) *Target {
	if t == nil || rand.Float64() < p.rampFactor(t, nanotime()) {
		return t
	}
	if other := v.pickFrom(c, r); other != nil {
		return other
	}
	return t
}

// markUsable records when each target became usable, for slow start: a target that was not
// usable at the previous refresh (new, back from down, ejection or an open breaker) starts
// its ramp now; usableSince 0 means it never had to ramp. It reports whether some target is ramping.
func (p *Pool) markUsable(now int64) bool {
	ramping := false
	for _, t := range p.members.Load().targets {
		usable := t.State.usable()
		if usable && !t.State.wasUsable.Swap(true) {
			t.State.usableSince.Store(now)
		}
		if !usable {
			t.State.wasUsable.Store(false)
		}
		since := t.State.usableSince.Load()
		ramping = ramping || usable && since != 0 && now-since < int64(p.settings.slowStart)
	}
	return ramping
}
