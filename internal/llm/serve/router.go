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
	Provider Provider
	// Keys are the provider's API keys when it has several (each with its own adapter in
	// Provider); nil: Provider alone.
	Keys         []*ProviderKey
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
	model    *Model    // the model the deployment serves, for its fallback rules (set by NewRouter)

	mu       sync.Mutex
	minute   int64 // the minute the counts below are for
	requests int
	tokens   int

	inflight atomic.Int64
	latency  atomic.Int64 // EWMA in nanoseconds: time to first token for streams, else total
	cooldown atomic.Int64 // unix nanoseconds until which the deployment sits out
	failures atomic.Int32 // consecutive failures, for cooldown_after
	nextKey  atomic.Uint32
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

// cooling reports whether the deployment sits out: it does, or every one of its keys does.
func (d *Deployment) cooling(now time.Time) bool {
	return d.cooldown.Load() > now.UnixNano() || d.keysCooling(now)
}

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
	// FallbackOn are the error classes that move a call on (zero: all but content_policy).
	FallbackOn Classes
	// ContextWindowFallbacks are tried when the prompt is too long for a deployment;
	// ContentPolicyFallbacks when a provider refused it.
	ContextWindowFallbacks []*Model
	ContentPolicyFallbacks []*Model
}

// Router chooses deployments for a model.
type Router struct {
	models   map[string]*Model // by name and alias
	cooldown time.Duration
	after    int // cooldown_after: failures in a row before a cooldown
	now      func() time.Time
}

// NewRouter routes among models, each under its name and the extra names in aliases.
// cooldown is how long a deployment sits out after a retryable failure.
func NewRouter(models []*Model, aliases map[string]*Model, cooldown time.Duration) *Router {
	r := &Router{models: map[string]*Model{}, cooldown: cooldown, after: 1, now: time.Now}
	for _, m := range models {
		r.models[m.Name] = m
		for _, d := range m.Deployments {
			d.model = m
		}
	}
	for a, m := range aliases {
		r.models[a] = m
	}
	return r
}

// SetCooldownAfter makes 5xx, overload and timeout failures cool a deployment (or key) down
// only after n in a row (rate limits and auth failures still do at once). Call it before the
// router serves.
func (r *Router) SetCooldownAfter(n int) { r.after = max(n, 1) }

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

// Attempt records one try of a call.
type Attempt struct {
	Deployment *Deployment
	Key        *ProviderKey // the key used, when the deployment has several
	Err        *llm.Error
	// Refused: the deployment's capacity pool did not let the call through in time; the
	// provider was not called.
	Refused bool
}

// Chat calls the deployments of plan in order until one answers. After a failure the
// model's fallback rules (next) decide whether it goes back to the client at once or the call
// moves on, and what cools down. tries lists the failed attempts. Each deployment with a
// capacity pool first admits the call by the class in ctx (WithClass); one that does not in
// time is skipped without a cooldown.
func (r *Router) Chat(ctx context.Context, req *llm.Request, plan []*Deployment) (resp *llm.Response, d *Deployment, tries []Attempt, err *llm.Error) {
	cl := classOf(ctx)
	var refused *llm.Response // a refusal kept in case no fallback does better
	var refusedBy *Deployment
	refusedTry := -1
	for i := 0; i < len(plan); i++ {
		d := plan[i]
		if e := cl.admit(ctx, d); e != nil {
			tries = append(tries, Attempt{Deployment: d, Err: e, Refused: true})
			if ctx.Err() != nil {
				return nil, d, tries, e
			}
			continue
		}
		k := d.pick(r.now)
		d.inflight.Add(1)
		d.count(r.now(), 1, 0)
		start := time.Now()
		resp, cerr := d.provider(k).Chat(ctx, req, d.Model)
		d.inflight.Add(-1)
		var e *llm.Error
		if cerr == nil {
			d.succeeded()
			d.observeLatency(time.Since(start))
			if !refusal(resp.Text, len(resp.ToolCalls), resp.Finish) || !d.fallsBackOn(llm.ClassContentPolicy) {
				return resp, d, tries, nil
			}
			refused, refusedBy, refusedTry, e = resp, d, len(tries), refusalError(d)
		} else {
			e = llm.AsError(cerr)
		}
		tries = append(tries, Attempt{Deployment: d, Key: k, Err: e})
		var ok bool
		if plan, ok = r.next(ctx, plan, i, k, e); !ok {
			if refused != nil {
				break
			}
			return nil, d, tries, e
		}
	}
	if refused != nil { // the refusal is the answer after all: not a failed try
		return refused, refusedBy, slices.Delete(tries, refusedTry, refusedTry+1), nil
	}
	return nil, nil, tries, exhausted(tries)
}

// refusal reports whether an answer is a provider's refusal before any content: Anthropic's
// stop_reason refusal, Gemini's finishReason SAFETY, OpenAI's content_filter, with nothing
// said. Such an answer may go to another model (content_policy); one that said something
// stands.
func refusal(text string, toolCalls int, finish string) bool {
	return finish == llm.FinishContentFilter && text == "" && toolCalls == 0
}

func refusalError(d *Deployment) *llm.Error {
	return &llm.Error{Status: 400, Type: llm.ErrInvalidRequest, Code: llm.CodeContentPolicy,
		Message: "the provider " + d.ProviderName + " refused the prompt (" + d.Model + " stopped with a content refusal before answering)"}
}

// OpenStream starts a stream on the deployments of plan in order, moving on as Chat does until
// one delivers its first event: a failure before the first byte reached the client is retried
// elsewhere, one after it cannot be. For a model that falls back on content_policy, the
// stream is read up to its first content, so a refusal before any can go elsewhere too. The
// returned stream tracks the deployment's in-flight count until closed.
func (r *Router) OpenStream(ctx context.Context, req *llm.Request, plan []*Deployment) (s llm.Stream, first llm.Event, d *Deployment, tries []Attempt, err *llm.Error) {
	cl := classOf(ctx)
	var refused *trackedStream // a refusal kept in case no fallback does better
	refusedTry := -1
	defer func() {
		if refused != nil && s != refused {
			refused.Close()
		}
	}()
	for i := 0; i < len(plan); i++ {
		d := plan[i]
		if e := cl.admit(ctx, d); e != nil {
			tries = append(tries, Attempt{Deployment: d, Err: e, Refused: true})
			if ctx.Err() != nil {
				return nil, llm.Event{}, d, tries, e
			}
			continue
		}
		k := d.pick(r.now)
		d.inflight.Add(1)
		d.count(r.now(), 1, 0)
		start := time.Now()
		st, serr := d.provider(k).Stream(ctx, req, d.Model)
		if serr == nil {
			first, serr = st.Next()
			if serr == nil || errors.Is(serr, io.EOF) {
				d.succeeded()
				d.observeLatency(time.Since(start))
				ts := &trackedStream{Stream: st, d: d, eof: serr != nil}
				if !d.fallsBackOn(llm.ClassContentPolicy) {
					return ts, first, d, tries, nil
				}
				if first = ts.peek(first); !ts.refused {
					return ts, first, d, tries, nil
				}
				if refused != nil {
					refused.Close()
				}
				refused, refusedTry = ts, len(tries)
				e := refusalError(d)
				tries = append(tries, Attempt{Deployment: d, Key: k, Err: e})
				var ok bool
				if plan, ok = r.next(ctx, plan, i, k, e); !ok {
					break
				}
				continue
			}
			st.Close()
		}
		d.inflight.Add(-1)
		e := llm.AsError(serr)
		tries = append(tries, Attempt{Deployment: d, Key: k, Err: e})
		var ok bool
		if plan, ok = r.next(ctx, plan, i, k, e); !ok {
			if refused != nil {
				break
			}
			return nil, llm.Event{}, d, tries, e
		}
	}
	if refused != nil { // the refusal is the answer after all: not a failed try
		first, _ = refused.Next()
		return refused, first, refused.d, slices.Delete(tries, refusedTry, refusedTry+1), nil
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
	d       *Deployment
	eof     bool
	closed  bool
	pending []llm.Event // read ahead by peek, served before the stream's next
	refused bool        // peek found a refusal before any content
	err     error       // what ended the stream during peek (io.EOF or a failure)
}

func (t *trackedStream) Next() (llm.Event, error) {
	if len(t.pending) > 0 {
		ev := t.pending[0]
		t.pending = t.pending[1:]
		return ev, nil
	}
	if t.err != nil {
		return llm.Event{}, t.err
	}
	if t.eof {
		return llm.Event{}, io.EOF
	}
	return t.Stream.Next()
}

// Buffered reports whether the next event is at hand without waiting (read ahead, or in the
// provider stream's buffer), so the handler can write it before flushing.
func (t *trackedStream) Buffered() bool {
	if len(t.pending) > 0 {
		return true
	}
	b, ok := t.Stream.(interface{ Buffered() bool })
	return ok && !t.eof && b.Buffered()
}

// content reports whether ev says something (text or a tool call), so no refusal can precede it.
func content(ev llm.Event) bool {
	return ev.Kind == llm.EventText || ev.Kind == llm.EventToolStart || ev.Kind == llm.EventToolArgs
}

// peekLimit bounds the events read ahead of the first content (a start, usage, pings).
const peekLimit = 16

// peek reads ahead from first up to the first content, to tell a refusal before any content
// (finish content_filter with nothing said). It returns the first event to send; the others
// wait in pending. A refused stream is read to its end (it is short) so holding it on costs no
// connection.
func (t *trackedStream) peek(first llm.Event) llm.Event {
	if content(first) {
		return first
	}
	t.pending = append(t.pending, first)
	ev := first
	for n := 0; n < peekLimit && !t.eof && !content(ev) && ev.Kind != llm.EventFinish; n++ {
		var err error
		if ev, err = t.Stream.Next(); err != nil {
			t.eof, t.err = true, err // the client's read meets it after the pending events
			break
		}
		t.pending = append(t.pending, ev)
	}
	if ev.Kind == llm.EventFinish && refusal("", 0, ev.Finish) {
		t.refused = true
		for n := 0; n < peekLimit && !t.eof; n++ {
			e, err := t.Stream.Next()
			if err != nil {
				break
			}
			t.pending = append(t.pending, e)
		}
		t.eof = true
		t.Stream.Close()
	}
	first, t.pending = t.pending[0], t.pending[1:]
	return first
}

func (t *trackedStream) Close() error {
	if !t.closed {
		t.closed = true
		t.d.inflight.Add(-1)
	}
	return t.Stream.Close()
}
