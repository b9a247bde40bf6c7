package serve

import (
	"cmp"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"aya/internal/llm"
)

// Provider is one provider endpoint, as an adapter reaches it.
type Provider interface {
	Chat(ctx context.Context, req *llm.Request, model string) (*llm.Response, error)
	Stream(ctx context.Context, req *llm.Request, model string) (llm.Stream, error)
}

// Routing strategies.
const (
	Weighted      = "weighted"
	LeastBusy     = "least_busy"
	LowestLatency = "lowest_latency"
	LowestCost    = "lowest_cost"
	UsageBased    = "usage_based"
	LeastLoaded   = "least_loaded"
)

// Deployment is a model on a provider, with the live state routing reads.
type Deployment struct {
	Provider     Provider
	ProviderName string
	Model        string // the provider's model id
	Weight       int
	// InputCost and OutputCost are US dollars per million tokens.
	InputCost, OutputCost float64
	// ContextWindow is the most prompt tokens the model takes (0: unknown). RPM and TPM are the
	// provider's per-minute limits for it (0: none known); a deployment at a limit is tried
	// only as a last resort, like one cooling down.
	ContextWindow int
	RPM, TPM      int
	// Load is the server's load from its metrics, for least_loaded (nil: not scraped).
	Load *Load

	capacity *capacity // the rpm's pool that calls are admitted through; nil: none

	mu       sync.Mutex
	minute   int64 // the minute the counts below are for
	requests int
	tokens   int

	inflight atomic.Int64
	latency  atomic.Int64 // EWMA in nanoseconds: time to first token for streams, else total
	cooldown atomic.Int64 // unix nanoseconds until which the deployment sits out
}

// Cost is what usage costs on this deployment, in US dollars.
func (d *Deployment) Cost(u llm.Usage) float64 {
	return (float64(u.Input)*d.InputCost + float64(u.Output)*d.OutputCost) / 1e6
}

func (d *Deployment) observeLatency(t time.Duration) {
	const alpha = 0.3 // recent calls dominate within a handful of requests
	for {
		old := d.latency.Load()
		next := int64(t)
		if old != 0 {
			next = int64(alpha*float64(t) + (1-alpha)*float64(old))
		}
		if d.latency.CompareAndSwap(old, next) {
			return
		}
	}
}

func (d *Deployment) cooling(now time.Time) bool { return d.cooldown.Load() > now.UnixNano() }

// headroom is the share of the deployment's minute left under its tightest limit (1 with
// none), and whether it is used up.
func (d *Deployment) headroom(now time.Time) (float64, bool) {
	if d.RPM == 0 && d.TPM == 0 {
		return 1, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.roll(now)
	h := 1.0
	if d.RPM > 0 {
		h = min(h, 1-float64(d.requests)/float64(d.RPM))
	}
	if d.TPM > 0 {
		h = min(h, 1-float64(d.tokens)/float64(d.TPM))
	}
	return h, h <= 0
}

func (d *Deployment) roll(now time.Time) {
	if m := now.Unix() / 60; m != d.minute {
		d.minute, d.requests, d.tokens = m, 0, 0
	}
}

// count adds a request (at its start) or tokens (once the usage is known) to the minute.
func (d *Deployment) count(now time.Time, requests, tokens int) {
	if d.RPM == 0 && d.TPM == 0 {
		return
	}
	d.mu.Lock()
	d.roll(now)
	d.requests += requests
	d.tokens += tokens
	d.mu.Unlock()
}

// Model is a public model name and how to serve it.
type Model struct {
	Name        string
	Strategy    string
	Deployments []*Deployment
	Fallbacks   []*Model
}

// Router chooses deployments for a model.
type Router struct {
	models   map[string]*Model // by name and alias
	cooldown time.Duration
	now      func() time.Time
}

// NewRouter routes among models, each under its name and the extra names in aliases.
// cooldown is how long a deployment sits out after a retryable failure.
func NewRouter(models []*Model, aliases map[string]*Model, cooldown time.Duration) *Router {
	r := &Router{models: map[string]*Model{}, cooldown: cooldown, now: time.Now}
	for _, m := range models {
		r.models[m.Name] = m
	}
	for a, m := range aliases {
		r.models[a] = m
	}
	return r
}

// Lookup finds a model by name or alias.
func (r *Router) Lookup(name string) (*Model, bool) {
	m, ok := r.models[name]
	return m, ok
}

// nearWindow reports whether a prompt guessed at guess tokens may not fit some deployment of m
// or of its fallbacks: the guess is within a factor of two of that deployment's context
// window, so it is worth counting exactly.
func (r *Router) nearWindow(m *Model, guess int) bool {
	seen := map[*Model]bool{}
	var near func(m *Model) bool
	near = func(m *Model) bool {
		if seen[m] {
			return false
		}
		seen[m] = true
		for _, d := range m.Deployments {
			if d.ContextWindow > 0 && 2*guess >= d.ContextWindow {
				return true
			}
		}
		for _, f := range m.Fallbacks {
			if near(f) {
				return true
			}
		}
		return false
	}
	return near(m)
}

// Plan orders every deployment to try for m: its own by its strategy, then each fallback
// model's the same way, and last, as a final resort, those cooling down after a failure or at
// their RPM/TPM limit. Deployments whose context window is smaller than promptTokens are left
// out. A deployment appears once.
func (r *Router) Plan(m *Model, promptTokens int) []*Deployment {
	now := r.now()
	var plan, cooling []*Deployment
	seen := map[*Model]bool{}
	var add func(m *Model)
	add = func(m *Model) {
		if seen[m] {
			return
		}
		seen[m] = true
		ready := make([]*Deployment, 0, len(m.Deployments))
		for _, d := range m.Deployments {
			_, full := d.headroom(now)
			switch {
			case slices.Contains(plan, d) || slices.Contains(cooling, d):
			case d.ContextWindow > 0 && promptTokens > d.ContextWindow:
			case full || d.cooling(now):
				cooling = append(cooling, d)
			default:
				ready = append(ready, d)
			}
		}
		order(m.Strategy, ready, now)
		plan = append(plan, ready...)
		for _, f := range m.Fallbacks {
			add(f)
		}
	}
	add(m)
	return append(plan, cooling...)
}

// order sorts deployments best first for a strategy.
func order(strategy string, ds []*Deployment, now time.Time) {
	switch strategy {
	case UsageBased:
		slices.SortStableFunc(ds, func(a, b *Deployment) int {
			ha, _ := a.headroom(now)
			hb, _ := b.headroom(now)
			return cmp.Compare(hb, ha)
		})
	case LeastBusy:
		leastBusy(ds)
	case LeastLoaded:
		leastLoaded(ds, now)
	case LowestLatency:
		// Unmeasured deployments (0) go first, so each gets measured.
		slices.SortStableFunc(ds, func(a, b *Deployment) int { return cmp.Compare(a.latency.Load(), b.latency.Load()) })
	case LowestCost:
		slices.SortStableFunc(ds, func(a, b *Deployment) int {
			return cmp.Compare(a.InputCost+a.OutputCost, b.InputCost+b.OutputCost)
		})
	default:
		weightedShuffle(ds)
	}
}

func leastBusy(ds []*Deployment) {
	slices.SortStableFunc(ds, func(a, b *Deployment) int { return cmp.Compare(a.inflight.Load(), b.inflight.Load()) })
}

// leastLoaded orders by the servers' scraped load, ties by calls in flight. When any
// deployment's load is unknown (never scraped, stale) scores cannot be compared across the
// set, so it is least_busy for all.
func leastLoaded(ds []*Deployment, now time.Time) {
	scores := make([]float64, len(ds))
	for i, d := range ds {
		s, ok := d.Load.Score(now)
		if !ok {
			leastBusy(ds)
			return
		}
		scores[i] = s
	}
	idx := make([]int, len(ds))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		if c := cmp.Compare(scores[a], scores[b]); c != 0 {
			return c
		}
		return cmp.Compare(ds[a].inflight.Load(), ds[b].inflight.Load())
	})
	sorted := make([]*Deployment, len(ds))
	for i, j := range idx {
		sorted[i] = ds[j]
	}
	copy(ds, sorted)
}

// weightedShuffle orders ds as draws without replacement, each draw proportional to weight;
// weight 0 deployments only follow the others (standbys).
func weightedShuffle(ds []*Deployment) {
	for i := range ds {
		total := 0
		for _, d := range ds[i:] {
			total += d.Weight
		}
		if total == 0 {
			return
		}
		n := rand.IntN(total)
		for j := i; j < len(ds); j++ {
			n -= ds[j].Weight
			if n < 0 {
				ds[i], ds[j] = ds[j], ds[i]
				break
			}
		}
	}
}

// fail puts d in cooldown after a retryable error, for the provider's retry-after when it is
// longer than the configured cooldown.
func (r *Router) fail(d *Deployment, e *llm.Error) {
	wait := max(r.cooldown, e.RetryAfter)
	if wait <= 0 {
		return
	}
	d.cooldown.Store(r.now().Add(wait).UnixNano())
}

// Attempt records one try of a call.
type Attempt struct {
	Deployment *Deployment
	Err        *llm.Error
	// Refused: the deployment's capacity pool did not let the call through in time; the
	// provider was not called.
	Refused bool
}

// Chat calls the deployments of plan in order until one answers. It moves on after a retryable
// error (rate limit, overload, server error, timeout, the provider key's auth failure) and
// returns the first other error at once. tries lists the failed attempts. Each deployment with
// a capacity pool first admits the call by the class in ctx (WithClass); one that does not in
// time is skipped without a cooldown.
func (r *Router) Chat(ctx context.Context, req *llm.Request, plan []*Deployment) (resp *llm.Response, d *Deployment, tries []Attempt, err *llm.Error) {
	cl := classOf(ctx)
	for _, d := range plan {
		if e := cl.admit(ctx, d); e != nil {
			tries = append(tries, Attempt{d, e, true})
			if ctx.Err() != nil {
				return nil, d, tries, e
			}
			continue
		}
		d.inflight.Add(1)
		d.count(r.now(), 1, 0)
		start := time.Now()
		resp, cerr := d.Provider.Chat(ctx, req, d.Model)
		d.inflight.Add(-1)
		if cerr == nil {
			d.observeLatency(time.Since(start))
			return resp, d, tries, nil
		}
		e := llm.AsError(cerr)
		tries = append(tries, Attempt{d, e, false})
		if !e.Retryable() || ctx.Err() != nil {
			return nil, d, tries, e
		}
		r.fail(d, e)
	}
	return nil, nil, tries, exhausted(tries)
}

// OpenStream starts a stream on the deployments of plan in order, moving on as Chat does until
// one delivers its first event: a failure before the first byte reached the client is retried
// elsewhere, one after it cannot be. The returned stream tracks the deployment's in-flight
// count until closed.
func (r *Router) OpenStream(ctx context.Context, req *llm.Request, plan []*Deployment) (s llm.Stream, first llm.Event, d *Deployment, tries []Attempt, err *llm.Error) {
	cl := classOf(ctx)
	for _, d := range plan {
		if e := cl.admit(ctx, d); e != nil {
			tries = append(tries, Attempt{d, e, true})
			if ctx.Err() != nil {
				return nil, llm.Event{}, d, tries, e
			}
			continue
		}
		d.inflight.Add(1)
		d.count(r.now(), 1, 0)
		start := time.Now()
		st, serr := d.Provider.Stream(ctx, req, d.Model)
		if serr == nil {
			first, serr = st.Next()
			if serr == nil || errors.Is(serr, io.EOF) {
				d.observeLatency(time.Since(start))
				return &trackedStream{Stream: st, d: d, eof: serr != nil}, first, d, tries, nil
			}
			st.Close()
		}
		d.inflight.Add(-1)
		e := llm.AsError(serr)
		tries = append(tries, Attempt{d, e, false})
		if !e.Retryable() || ctx.Err() != nil {
			return nil, llm.Event{}, d, tries, e
		}
		r.fail(d, e)
	}
	return nil, llm.Event{}, nil, tries, exhausted(tries)
}

func exhausted(tries []Attempt) *llm.Error {
	if len(tries) == 0 {
		return llm.Errorf(503, llm.ErrOverloaded, "the model has no deployments")
	}
	// The last provider's error tells the client the most (a 429 keeps its retry-after).
	return tries[len(tries)-1].Err
}

type trackedStream struct {
	llm.Stream
	d      *Deployment
	eof    bool
	closed bool
}

func (t *trackedStream) Next() (llm.Event, error) {
	if t.eof {
		return llm.Event{}, io.EOF
	}
	return t.Stream.Next()
}

func (t *trackedStream) Close() error {
	if !t.closed {
		t.closed = true
		t.d.inflight.Add(-1)
	}
	return t.Stream.Close()
}
