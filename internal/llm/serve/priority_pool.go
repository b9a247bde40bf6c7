package serve

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"aya/internal/llm"
	"aya/internal/tps"
)

// Defaults of PoolOptions.
const (
	DefaultQueueTimeout = 2 * time.Second
	DefaultBatchTimeout = 10 * time.Minute
)

const (
	tierBatch = "batch"
	// batchService is the pools' service index of batch calls; the priorities come first, at
	// the index of their tps level.
	batchService = 4
	// batchShare caps batch's own share (one request every 11 days): batch calls live on the
	// capacity the allocator gave nobody and on idle low tokens, never on a share of their own.
	// 0 would mean no cap to the pool.
	batchShare = 1e-6
	// noMargin: the deployment's rpm is the provider's own count, not a cap aya must keep a
	// safety margin under, and the pool admits ⌊capacity × (1 − margin)⌋ per second, so any
	// real margin would cost a whole request per second. 0 would mean the pool's default 2%.
	noMargin  = math.SmallestNonzeroFloat64
	poolTick  = 250 * time.Millisecond
	poolQueue = 10000
)

// PoolOptions configure the deployments' capacity pools.
type PoolOptions struct {
	// QueueTimeout is how long an interactive call waits at one saturated deployment before it
	// is skipped (0: DefaultQueueTimeout); BatchTimeout how long a batch call may wait in all
	// unless it sends x-aya-deadline (0: DefaultBatchTimeout).
	QueueTimeout, BatchTimeout time.Duration
	// Shared says several aya nodes share the deployments' limits (a cluster), each node running
	// its pools on a share of them (SharedPool.SetShare). Every rpm then gets a request pool
	// (token_pool.go), never the TPS pool: a TPS pool admits whole requests per second, so a
	// node's share of a small rpm (rpm 100 over two nodes: 0.83 a second) would admit nothing,
	// and each node would lose the fraction of its share. The pools also start on a share of 0:
	// they admit nothing before the node's first lease (or its fallback) sets their share.
	Shared bool
}

// pools runs the capacity pools of a handler's deployments.
type pools struct {
	queueTimeout, batchTimeout time.Duration
	stop                       context.CancelFunc // nil: no tps pool running
	done                       chan struct{}      // closed when the pools stop
	wg                         sync.WaitGroup
	weighted                   []*tokenPool // the token pools, closed with the handler
	shared                     []*SharedPool
}

// capacity is one deployment's pools; a call must pass each it has.
type capacity struct {
	pool     *tps.Pool       // rpm ≥ 60: requests per second, by the tiers' shares; nil: none
	requests *tokenPool      // 0 < rpm < 60, or any rpm shared by a cluster: requests as weights under the minute; nil: none
	tokens   *tokenPool      // tpm > 0: the calls' estimated tokens under the minute; nil: none
	done     <-chan struct{} // closed when the handler's pools stop
}

// StartPools gives every deployment with an rpm or a tpm its capacity pools, and starts them;
// Close stops them. Calls are admitted through a deployment's pools before they are sent to
// it, by their class (priority tier or batch):
//
//   - rpm of 60 or more: the TPS balancer's pool of rpm/60 requests per second, shared by the
//     tiers (waterfill allocator);
//   - rpm below 60 (the TPS pool's least capacity is one request a second), or any rpm with
//     o.Shared: a token pool (token_pool.go) with each request weighing one, so the rpm holds
//     over every minute;
//   - tpm: a token pool weighing each call by its estimated tokens (Class.Tokens), settled
//     with the provider's reported usage after the call (SettleTokens).
//
// Call it once, before the handler serves.
func (h *Handler) StartPools(o PoolOptions) error {
	h.pools.queueTimeout, h.pools.batchTimeout = o.QueueTimeout, o.BatchTimeout
	if h.pools.queueTimeout <= 0 {
		h.pools.queueTimeout = DefaultQueueTimeout
	}
	if h.pools.batchTimeout <= 0 {
		h.pools.batchTimeout = DefaultBatchTimeout
	}
	services := make([]tps.Service, 0, batchService+1)
	for _, l := range tps.Priorities {
		services = append(services, tps.Service{Name: l.String(), Priority: l})
	}
	services = append(services, tps.Service{Name: tierBatch, Priority: tps.Low, Max: batchShare})
	var built []*tps.Pool
	var withCap []*Deployment
	seen := map[*Deployment]bool{}
	for _, name := range h.models {
		m, _ := h.router.Lookup(name)
		for _, d := range m.Deployments {
			if seen[d] || d.RPM <= 0 && d.TPM <= 0 {
				continue
			}
			seen[d] = true
			c := &capacity{}
			switch {
			case d.RPM >= 60 && !o.Shared:
				alloc, err := tps.NewAllocator("waterfill")
				if err != nil {
					return err
				}
				p, err := tps.NewPool(tps.PoolConfig{
					Name:         fmt.Sprintf("llm %s/%s on %s", m.Name, d.Model, d.ProviderName),
					Capacity:     float64(d.RPM) / 60,
					Tick:         poolTick,
					Margin:       noMargin,
					QueueMax:     poolQueue,
					QueueTimeout: maxDeadline, // waits end by the call's context (see admit)
					Services:     services,
				}, alloc)
				if err != nil {
					return fmt.Errorf("llm deployment %s on %s (model %s): %w", d.Model, d.ProviderName, m.Name, err)
				}
				built = append(built, p)
				c.pool = p
				h.pools.share(m, d, "rpm", d.RPM, p, nil)
			case d.RPM > 0:
				c.requests = newTokenPool(float64(d.RPM), poolQueue, time.Now)
				if o.Shared {
					c.requests.setLimit(0)
				}
				h.pools.weighted = append(h.pools.weighted, c.requests)
				h.pools.share(m, d, "rpm", d.RPM, nil, c.requests)
			}
			if d.TPM > 0 {
				c.tokens = newTokenPool(float64(d.TPM), poolQueue, time.Now)
				if o.Shared {
					c.tokens.setLimit(0)
				}
				h.pools.weighted = append(h.pools.weighted, c.tokens)
				h.pools.share(m, d, "tpm", d.TPM, nil, c.tokens)
			}
			d.capacity = c
			withCap = append(withCap, d)
		}
	}
	h.pools.done = make(chan struct{})
	for _, d := range withCap {
		d.capacity.done = h.pools.done
	}
	if len(built) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.pools.stop = cancel
	for _, p := range built {
		h.pools.wg.Go(func() { p.Run(ctx) })
	}
	return nil
}

// close stops the pools: calls still waiting are refused.
func (ps *pools) close() {
	if ps.done == nil {
		return
	}
	close(ps.done)
	for _, p := range ps.weighted {
		p.close()
	}
	if ps.stop != nil {
		ps.stop()
		ps.wg.Wait()
	}
}

// PoolSnapshots are the deployments' rpm pools (rpm of 60 or more) as they are now (admin API,
// tests).
func (h *Handler) PoolSnapshots() []tps.Snapshot {
	var out []tps.Snapshot
	seen := map[*Deployment]bool{}
	for _, name := range h.models {
		m, _ := h.router.Lookup(name)
		for _, d := range m.Deployments {
			if d.capacity != nil && d.capacity.pool != nil && !seen[d] {
				seen[d] = true
				out = append(out, d.capacity.pool.Snapshot())
			}
		}
	}
	return out
}

// batchRPMSlice bounds how long a batch call holds its tokens while it waits for a request
// slot: then it gives them back and queues for tokens again, behind any interactive call, so
// a long batch wait never sits on tokens an interactive call could use.
const batchRPMSlice = time.Second

// admit waits until d's pools let a call of class cl through. nil: send it to d now. A refusal
// is a 429 rate_limit_exceeded (the router moves on to the next deployment, without a
// cooldown: the provider did nothing wrong); a client that left gets a 499.
//
// Tokens come first and the request slot second: a token reservation can be given back when
// the request slot does not come in time, but an rpm slot, once taken, is spent. So a call
// never holds a spent request slot while it waits for tokens; it holds tokens while it waits
// for a slot only within its own wait (a batch call within batchRPMSlice at a time).
func (cl Class) admit(ctx context.Context, d *Deployment) *llm.Error {
	c := d.capacity
	if c == nil {
		return nil
	}
	tier := cl.tier()
	n := float64(max(cl.Tokens, 1))
	c.arrive(n)
	if c.pool == nil { // the token pools' fast path needs no wait context
		if g, ok := c.fastTake(tier, n); ok {
			holdTokens(ctx, c.tokens, g)
			return nil
		}
	}
	wait := newWaitContext(ctx, cl.waitUntil(time.Now()))
	defer wait.release()
	for {
		var g grant
		if c.tokens != nil {
			var err error
			if g, err = c.tokens.wait(wait, tier, n); err != nil {
				// Pushed out of a full queue by a more important call: a batch call queues
				// again while its deadline allows.
				if errors.Is(err, errPushedOut) && cl.Batch && !closed(c.done) && sleep(wait, time.Second) {
					continue
				}
				return cl.refusal(ctx, d, "tpm", d.TPM, c.tokens.retryIn(tier, n))
			}
		}
		err, sliced := cl.admitRequest(ctx, wait, c, tier)
		if err == nil {
			holdTokens(ctx, c.tokens, g)
			return nil
		}
		if c.tokens != nil {
			c.tokens.settle(g, 0)
		}
		if sliced && wait.Err() == nil && !closed(c.done) {
			continue // a batch call's slice for the request slot ended: queue for tokens again
		}
		var rej *tps.RejectedError
		retry := time.Second
		if errors.As(err, &rej) {
			retry = rej.RetryAfter
		} else if c.requests != nil {
			retry = c.requests.retryIn(tier, 1)
		}
		return cl.refusal(ctx, d, "rpm", d.RPM, retry)
	}
}

// arrive counts a call that came to d's token pools (the tps pool counts its own), for the
// demand a cluster lease is sized by.
func (c *capacity) arrive(n float64) {
	if c.tokens != nil {
		c.tokens.arrive(n)
	}
	if c.requests != nil {
		c.requests.arrive(1)
	}
}

// fastTake admits a call on pools that all have room now, without waiting or allocating.
func (c *capacity) fastTake(tier int, n float64) (grant, bool) {
	var g grant
	if c.tokens != nil {
		var ok bool
		if g, ok = c.tokens.take(tier, n); !ok {
			return grant{}, false
		}
	}
	if c.requests != nil {
		if _, ok := c.requests.take(tier, 1); !ok {
			if c.tokens != nil {
				c.tokens.settle(g, 0)
			}
			return grant{}, false
		}
	}
	return g, true
}

// admitRequest takes d's request slot (rpm), waiting within wait; sliced reports that a batch
// call's slice ended rather than its wait.
func (cl Class) admitRequest(ctx context.Context, wait *waitContext, c *capacity, tier int) (err error, sliced bool) {
	if c.pool == nil && c.requests == nil {
		return nil, false
	}
	w := wait
	if cl.Batch && c.tokens != nil {
		w = newWaitContext(wait, time.Now().Add(batchRPMSlice))
		defer w.release()
	}
	if c.requests != nil {
		_, err = c.requests.wait(w, tier, 1)
	} else {
		for {
			if err = c.pool.Admit(w, tier); err == nil || !cl.Batch {
				break
			}
			// Pushed out of a full queue by a more important call: a batch call waits on while
			// its deadline allows; an interactive one moves on.
			var rej *tps.RejectedError
			if !errors.As(err, &rej) || ctx.Err() != nil || closed(c.done) || !sleep(w, rej.RetryAfter) {
				break
			}
		}
	}
	return err, err != nil && w != wait && wait.Err() == nil && ctx.Err() == nil
}

// waitUntil is when the call's wait at one deployment ends: a batch call's deadline, or an
// interactive call's Wait, or its Deadline when that comes first.
func (cl Class) waitUntil(now time.Time) time.Time {
	if cl.Batch {
		if cl.Deadline.IsZero() {
			return now.Add(DefaultBatchTimeout)
		}
		return cl.Deadline
	}
	w := cl.Wait
	if w <= 0 {
		w = DefaultQueueTimeout
	}
	until := now.Add(w)
	if !cl.Deadline.IsZero() && cl.Deadline.Before(until) {
		return cl.Deadline
	}
	return until
}

// refusal is the error of a call a pool did not admit: 499 when the client left, else 429.
// Every other reason (the wait ended, pushed out of a full queue, the pools stopped) is the
// same 429 to the client.
func (cl Class) refusal(ctx context.Context, d *Deployment, limit string, of int, retry time.Duration) *llm.Error {
	if ctx.Err() != nil {
		return &llm.Error{Status: 499, Type: llm.ErrInvalidRequest, Message: "the client left while the call waited for capacity"}
	}
	return refused(d, cl, max(retry, time.Second), limit, of)
}

func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// sleep waits d unless ctx ends first; it reports whether the full time passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func refused(d *Deployment, cl Class, retry time.Duration, limit string, of int) *llm.Error {
	return &llm.Error{Status: 429, Type: llm.ErrRateLimit, Code: "rate_limit_exceeded", RetryAfter: retry,
		Message: fmt.Sprintf("deployment %s on %s is at its %s (%d): this %s call waited for capacity and got none; retry later, or ask aya's operator for a higher priority",
			d.Model, d.ProviderName, limit, of, cl.Tier())}
}

// SharedPool is one of a deployment's capacity pools whose limit several aya nodes share (a
// cluster): each node runs it on the share its cluster lease gives it (SetShare), a lease sized
// by the node's demand on it (Arrived). The serve package knows nothing of leases or Redis.
type SharedPool struct {
	// Key names the pool alike on every node running the same config, and across reloads:
	// "llm:" + model + "/" + provider + "/" + the provider's model + ":rpm" or ":tpm".
	Key string
	// Model is aya's model name, Provider and ProviderModel the deployment's.
	Model, Provider, ProviderModel string
	// Limit is "rpm" or "tpm", PerMinute the deployment's value of it: the cluster's limit.
	Limit     string
	PerMinute float64

	rps    *tps.Pool  // rpm of 60 or more
	tokens *tokenPool // a token pool: tpm, or rpm under 60
}

// share records one of d's pools as shared.
func (ps *pools) share(m *Model, d *Deployment, limit string, perMinute int, rps *tps.Pool, tokens *tokenPool) {
	ps.shared = append(ps.shared, &SharedPool{
		Key:   "llm:" + m.Name + "/" + d.ProviderName + "/" + d.Model + ":" + limit,
		Model: m.Name, Provider: d.ProviderName, ProviderModel: d.Model,
		Limit: limit, PerMinute: float64(perMinute), rps: rps, tokens: tokens,
	})
}

// SharedPools are the handler's deployment pools with an rpm or a tpm, the same pointers for
// the handler's life (a reload builds a new handler with new pools).
func (h *Handler) SharedPools() []*SharedPool { return h.pools.shared }

// Arrived is what came to the pool since it started, admitted or not: requests for an rpm,
// estimated tokens for a tpm.
func (p *SharedPool) Arrived() float64 {
	if p.tokens != nil {
		return float64(p.tokens.arrived.Load())
	}
	var n uint64
	for _, s := range p.rps.Snapshot().Services {
		n += s.Arrived
	}
	return float64(n)
}

// Used is what the pool admitted that the provider still counts in its minute (the current
// second and the 60 before it), in the limit's unit; 0 for an rpm pool of 60 or more, which
// admits by the sliding second (a lease's hold covers that).
func (p *SharedPool) Used() float64 {
	if p.tokens == nil {
		return 0
	}
	return p.tokens.used()
}

// Window is how long what the pool admitted counts against its limit: a token pool's minute
// window; 0 for an rpm pool of 60 or more.
func (p *SharedPool) Window() time.Duration {
	if p.tokens == nil {
		return 0
	}
	return windowSlots * time.Second
}

// Inherit takes over what old, the pool of the same Key that p replaces after a reload, admitted
// in its minute (and its bucket's level), so that the minute holds across the reload. It does
// nothing unless both are token pools.
func (p *SharedPool) Inherit(old *SharedPool) {
	if p.tokens != nil && old.tokens != nil && p != old {
		p.tokens.inherit(old.tokens)
	}
}

// Tick is how often the pool decides; a lease need not change faster.
func (*SharedPool) Tick() time.Duration { return poolTick }

// SetShare runs the pool on perMinute of the deployment's limit (a lease); the deployment's
// whole limit restores it.
func (p *SharedPool) SetShare(perMinute float64) {
	if p.tokens != nil {
		p.tokens.setLimit(perMinute)
		return
	}
	p.rps.SetCapacity(perMinute / 60)
}
