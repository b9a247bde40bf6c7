package serve

import (
	"context"
	"fmt"
	"slices"
	"time"

	"aya/internal/llm"
)

// Classes is a set of error classes (llm.Class*) a model falls back on. The zero value is the
// default: every class but content_policy.
type Classes uint16

const classesSet Classes = 1 << 15 // marks a set that was given, so an empty one means none

// classBit is class's member of a set; 0 for a class no model falls back on. A switch, not a
// map: the router asks on every answered stream.
func classBit(class string) Classes {
	switch class {
	case llm.ClassRateLimit:
		return 1 << 0
	case llm.ClassOverloaded:
		return 1 << 1
	case llm.ClassServerError:
		return 1 << 2
	case llm.ClassTimeout:
		return 1 << 3
	case llm.ClassAuth:
		return 1 << 4
	case llm.ClassContextLength:
		return 1 << 5
	case llm.ClassContentPolicy:
		return 1 << 6
	}
	return 0
}

// defaultClasses is the behaviour of a model without fallback_on: every retryable class and
// context_length; a provider's content refusal goes back to the client.
const defaultClasses = classesSet | 1<<0 | 1<<1 | 1<<2 | 1<<3 | 1<<4 | 1<<5

// ParseClasses is the set of the named classes (fallback_on's values).
func ParseClasses(names []string) (Classes, error) {
	s := classesSet
	for _, n := range names {
		b := classBit(n)
		if b == 0 {
			return 0, fmt.Errorf("unknown error class %q: use one of %v", n, llm.FallbackClasses)
		}
		s |= b
	}
	return s, nil
}

// Has reports whether class is in the set.
func (s Classes) Has(class string) bool {
	if s == 0 {
		s = defaultClasses
	}
	return s&classBit(class) != 0
}

// fallsBackOn reports whether a failure of class at d may go on to another deployment.
func (d *Deployment) fallsBackOn(class string) bool {
	if d.model == nil {
		return defaultClasses.Has(class)
	}
	return d.model.FallbackOn.Has(class)
}

// authCooldown is the least a key refused for auth or billing sits out: topping up an account
// or fixing a key takes a person, not seconds.
const authCooldown = time.Minute

// next applies the fallback rules to a failed attempt at plan[i], made with key k (nil: the
// deployment's only key). It cools down what the error's class blames and returns the plan to
// go on with from i+1, or false when the error goes back to the client. Chat and OpenStream
// both decide here.
//
//   - a class the model's fallback_on does not list, or a client that left: back to the client;
//   - rate_limit and auth at one of several keys: that key sits out, and the same deployment
//     is tried again at once with another key (once per key);
//   - rate_limit, auth, overloaded, server_error, timeout: the deployment sits out (rate_limit
//     and auth at once, the others after cooldown_after failures in a row) and the call moves on;
//   - context_length: nothing cools (the prompt is at fault, not the provider); the rest of
//     the plan whose known context window is no larger is skipped, and the model's
//     context_window_fallbacks come after its own remaining deployments;
//   - content_policy: nothing cools; the model's remaining deployments are skipped (they share
//     its policy) and its content_policy_fallbacks come first.
func (r *Router) next(ctx context.Context, plan []*Deployment, i int, k *ProviderKey, e *llm.Error) ([]*Deployment, bool) {
	d := plan[i]
	class := e.Class()
	if ctx.Err() != nil || !d.fallsBackOn(class) {
		return plan, false
	}
	switch class {
	case llm.ClassContextLength:
		return r.afterContextLength(plan, i), true
	case llm.ClassContentPolicy:
		return r.afterContentPolicy(plan, i), true
	case llm.ClassRateLimit, llm.ClassAuth:
		if k != nil {
			r.coolKey(k, e, class)
			if d.keysCooling(r.now()) || tries(plan[:i+1], d) >= len(d.Keys) {
				return plan, true
			}
			again := append(plan[:i+1:i+1], d)
			return append(again, plan[i+1:]...), true
		}
	}
	r.fail(d, e)
	return plan, true
}

func tries(plan []*Deployment, d *Deployment) int {
	n := 0
	for _, x := range plan {
		if x == d {
			n++
		}
	}
	return n
}

// wait is how long a failure of class sits out: the configured cooldown or the provider's
// retry-after, whichever is longer, and for auth at least authCooldown.
func (r *Router) wait(e *llm.Error, class string) time.Duration {
	w := max(r.cooldown, e.RetryAfter)
	if class == llm.ClassAuth {
		w = max(w, authCooldown)
	}
	return w
}

// fail puts d in cooldown after a failure (see wait): a rate limit or an auth failure at
// once, others after cooldown_after in a row.
func (r *Router) fail(d *Deployment, e *llm.Error) {
	class := e.Class()
	if class != llm.ClassRateLimit && class != llm.ClassAuth && int(d.failures.Add(1)) < r.after {
		return
	}
	d.failures.Store(0)
	if w := r.wait(e, class); w > 0 {
		d.cooldown.Store(r.now().Add(w).UnixNano())
	}
}

// coolKey puts one of a deployment's keys in cooldown after a rate limit or auth failure.
func (r *Router) coolKey(k *ProviderKey, e *llm.Error, class string) {
	if w := r.wait(e, class); w > 0 {
		k.cooldown.Store(r.now().Add(w).UnixNano())
	}
}

func (r *Router) afterContextLength(plan []*Deployment, i int) []*Deployment {
	d := plan[i]
	larger := func(x *Deployment) bool {
		return d.ContextWindow == 0 || x.ContextWindow == 0 || x.ContextWindow > d.ContextWindow
	}
	out := plan[: i+1 : i+1]
	var others []*Deployment
	for _, x := range plan[i+1:] {
		switch {
		case !larger(x):
		case x.model == d.model:
			out = append(out, x)
		default:
			others = append(others, x)
		}
	}
	if d.model != nil {
		out = r.appendModels(out, d.model.ContextWindowFallbacks, plan, larger)
	}
	return append(out, others...)
}

func (r *Router) afterContentPolicy(plan []*Deployment, i int) []*Deployment {
	d := plan[i]
	out := plan[: i+1 : i+1]
	if d.model != nil {
		out = r.appendModels(out, d.model.ContentPolicyFallbacks, plan, nil)
	}
	for _, x := range plan[i+1:] {
		if d.model == nil || x.model != d.model {
			out = append(out, x)
		}
	}
	return out
}

// appendModels adds the deployments of models to out, each model's ordered by its strategy and
// those cooling down last, leaving out those already in plan and those keep refuses.
func (r *Router) appendModels(out []*Deployment, models []*Model, plan []*Deployment, keep func(*Deployment) bool) []*Deployment {
	now := r.now()
	var cooling []*Deployment
	for _, m := range models {
		ready := make([]*Deployment, 0, len(m.Deployments))
		for _, x := range m.Deployments {
			_, full := x.headroom(now)
			switch {
			case slices.Contains(plan, x) || slices.Contains(out, x) || slices.Contains(cooling, x) || keep != nil && !keep(x):
			case full || x.cooling(now):
				cooling = append(cooling, x)
			default:
				ready = append(ready, x)
			}
		}
		order(m.Strategy, ready, now)
		out = append(out, ready...)
	}
	return append(out, cooling...)
}
