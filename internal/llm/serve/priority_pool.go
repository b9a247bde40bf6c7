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
}

// pools runs the capacity pools of a handler's deployments.
type pools struct {
	queueTimeout, batchTimeout time.Duration
	stop                       context.CancelFunc // nil: none running
	done                       chan struct{}      // closed when the pools stop
	wg                         sync.WaitGroup
}

// capacity is one deployment's pool.
type capacity struct {
	pool *tps.Pool
	done <-chan struct{} // closed when the handler's pools stop
}

// StartPools gives every deployment with an rpm of 60 or more a capacity pool of rpm/60
// requests per second, shared by the priority tiers (waterfill allocator), and starts them;
// Close stops them. Calls are admitted through a deployment's pool before they are sent to
// it. Lower rpms have no pool (a pool's capacity is at least one request per second): their
// deployments keep only the per-minute count. Call it once, before the handler serves.
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
	seen := map[*Deployment]bool{}
	for _, name := range h.models {
		m, _ := h.router.Lookup(name)
		for _, d := range m.Deployments {
			if seen[d] || d.RPM < 60 {
				continue
			}
			seen[d] = true
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
			d.capacity = &capacity{pool: p}
		}
	}
	if len(built) == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.pools.stop, h.pools.done = cancel, make(chan struct{})
	for d := range seen {
		d.capacity.done = h.pools.done
	}
	for _, p := range built {
		h.pools.wg.Go(func() { p.Run(ctx) })
	}
	return nil
}

// close stops the pools: calls still waiting are refused.
func (ps *pools) close() {
	if ps.stop != nil {
		close(ps.done)
		ps.stop()
		ps.wg.Wait()
	}
}

// PoolSnapshots are the deployments' pools as they are now (admin API, tests).
func (h *Handler) PoolSnapshots() []tps.Snapshot {
	var out []tps.Snapshot
	seen := map[*Deployment]bool{}
	for _, name := range h.models {
		m, _ := h.router.Lookup(name)
		for _, d := range m.Deployments {
			if d.capacity != nil && !seen[d] {
				seen[d] = true
				out = append(out, d.capacity.pool.Snapshot())
			}
		}
	}
	return out
}

// admit waits until d's pool lets a call of class cl through. nil: send it to d now. A refusal
// is a 429 rate_limit_exceeded (the router moves on to the next deployment, without a
// cooldown: the provider did nothing wrong); a client that left gets a 499.
func (cl Class) admit(ctx context.Context, d *Deployment) *llm.Error {
	c := d.capacity
	if c == nil {
		return nil
	}
	svc := int(cl.Priority.level())
	var wait context.Context
	var cancel context.CancelFunc
	switch {
	case cl.Batch:
		svc = batchService
		deadline := cl.Deadline
		if deadline.IsZero() {
			deadline = time.Now().Add(DefaultBatchTimeout)
		}
		wait, cancel = context.WithDeadline(ctx, deadline)
	default:
		w := cl.Wait
		if w <= 0 {
			w = DefaultQueueTimeout
		}
		wait, cancel = context.WithTimeout(ctx, w)
		if !cl.Deadline.IsZero() {
			wait, cancel = withEarlier(wait, cancel, cl.Deadline)
		}
	}
	defer cancel()
	for {
		err := c.pool.Admit(wait, svc)
		if err == nil {
			return nil
		}
		var rej *tps.RejectedError
		switch {
		case ctx.Err() != nil:
			return &llm.Error{Status: 499, Type: llm.ErrInvalidRequest, Message: "the client left while the call waited for capacity"}
		case errors.As(err, &rej):
			// Pushed out of a full queue by a more important call. A batch call waits on while
			// its deadline allows; an interactive one moves on.
			if cl.Batch && !closed(c.done) && sleep(wait, rej.RetryAfter) {
				continue
			}
			return refused(d, cl, rej.RetryAfter)
		default: // the wait ended
			return refused(d, cl, time.Second)
		}
	}
}

// withEarlier bounds ctx by deadline too.
func withEarlier(ctx context.Context, cancel context.CancelFunc, deadline time.Time) (context.Context, context.CancelFunc) {
	if d, ok := ctx.Deadline(); ok && !deadline.Before(d) {
		return ctx, cancel
	}
	c2, cancel2 := context.WithDeadline(ctx, deadline)
	return c2, func() { cancel2(); cancel() }
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

func refused(d *Deployment, cl Class, retry time.Duration) *llm.Error {
	return &llm.Error{Status: 429, Type: llm.ErrRateLimit, Code: "rate_limit_exceeded", RetryAfter: retry,
		Message: fmt.Sprintf("deployment %s on %s is at its rpm (%d): this %s call waited for capacity and got none; retry later, or ask aya's operator for a higher priority",
			d.Model, d.ProviderName, d.RPM, cl.Tier())}
}
