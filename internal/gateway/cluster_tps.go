package gateway

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"aya/internal/cluster"
	"aya/internal/tps"
)

// A cluster shares each pool's capacity — a TPS pool's, an LLM deployment's rpm or tpm: every
// node holds a lease on part of it, sized by its demand, and runs its local pool with the lease
// as its capacity (cluster.Lease has the allocation). The leases are renewed together at the
// shortest pool tick.
const (
	minLeaseEvery = 50 * time.Millisecond
	maxLeaseEvery = time.Second
	// leaseHold is the upstream's rate window: a lease that shrank still counts at its old
	// size for that long, because what was admitted under it is still in the window. A pool
	// whose upstream counts over a longer window (an LLM provider's minute) also reports what
	// it admitted in it (leasable.usage).
	leaseHold = time.Second
)

// leasable is a pool whose capacity the cluster shares.
type leasable interface {
	// capacity is the cluster's, per second.
	capacity() float64
	// arrivals counts what came to the pool since it started, admitted or not; recent is the
	// demand of a pool renewed for the first time (its last tick's, or 0).
	arrivals() (total, recent float64)
	// usage is what the pool admitted that the upstream counts beyond leaseHold.
	usage() cluster.Usage
	// setCapacity runs the pool on a lease, per second.
	setCapacity(float64)
	// inherit takes over what old, the pool of the same name this one replaces after a reload,
	// admitted that its upstream still counts.
	inherit(old leasable)
	tick() time.Duration
	// metric is the lease's gauge.
	metric(lease float64) prometheus.Metric
}

// poolLeases keeps this node's leases on the capacities of the pools of the running config
// (by lease name: "tps:NAME", "llm:…"), and falls back to capacity ÷ the nodes last seen while
// Redis does not answer: if every node does the same, they still add up to the capacity.
type poolLeases struct {
	client  goredis.UniversalClient
	node    string
	timeout time.Duration
	pools   func() map[string]leasable // the running config's
	log     *slog.Logger

	mu     sync.Mutex
	leased map[string]*leasedPool // by lease name
	down   bool                   // the last renewal failed
	errs   int64

	stop chan struct{}
	done chan struct{}
}

// leasedPool is one pool's lease and what its demand is measured from.
type leasedPool struct {
	lease   *cluster.Lease
	src     leasable // a reload may replace the pool under the same name
	arrived float64  // the pool's arrivals at the last renewal
	at      time.Time
	granted float64 // the capacity the local pool runs with
	nodes   int     // live nodes at the last successful renewal
	viaRed  bool    // granted by Redis, not the fallback
}

func newPoolLeases(client goredis.UniversalClient, node string, timeout time.Duration, pools func() map[string]leasable, log *slog.Logger) *poolLeases {
	return &poolLeases{client: client, node: node, timeout: max(timeout, 100*time.Millisecond), pools: pools, log: log,
		leased: map[string]*leasedPool{}, stop: make(chan struct{}), done: make(chan struct{})}
}

// leaseEvery is the renewal interval: the shortest pool tick, within bounds.
func leaseEvery(pools map[string]leasable) time.Duration {
	d := maxLeaseEvery
	for _, p := range pools {
		d = min(d, p.tick())
	}
	return max(d, minLeaseEvery)
}

// ttl is how long a lease outlives its last renewal: three renewals, and at least the hold
// plus one renewal, so a dead node's admissions have left the upstream's window before the
// others take its share.
func ttlFor(every time.Duration) time.Duration { return max(3*every, leaseHold+every) }

// start renews once (so the pools start at their leases, not at the whole capacity) and then
// keeps renewing until close.
func (l *poolLeases) start() {
	l.renew(context.Background())
	go l.run()
}

func (l *poolLeases) run() {
	defer close(l.done)
	t := time.NewTimer(leaseEvery(l.pools()))
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		t.Reset(l.renew(context.Background()))
	}
}

// renew renews the lease of every pool of the running config, gives back those of pools the
// config dropped, and returns when to renew next.
func (l *poolLeases) renew(ctx context.Context) time.Duration {
	pools := l.pools()
	every := leaseEvery(pools)
	l.mu.Lock()
	defer l.mu.Unlock()
	failed := false
	for name, p := range pools {
		lp := l.leased[name]
		if lp == nil {
			lease, err := cluster.NewLease(l.client, name, l.node, cluster.LeaseOptions{Prefix: clusterPrefix, TTL: ttlFor(every), Hold: leaseHold})
			if err != nil {
				l.log.Error("pool runs without a cluster lease", "pool", name, "error", err)
				continue
			}
			lp = &leasedPool{lease: lease}
			l.leased[name] = lp
		}
		if lp.src != nil && lp.src != p {
			p.inherit(lp.src)
		}
		capacity := p.capacity()
		demand := lp.demand(p, time.Now())
		rctx, cancel := context.WithTimeout(ctx, l.timeout)
		g, err := lp.lease.RenewUsage(rctx, capacity, demand, p.usage())
		cancel()
		if err != nil {
			failed = true
			l.errs++
			if !l.down {
				l.log.Error("Redis failed; TPS and LLM pools fall back to capacity ÷ the nodes last seen until it answers",
					"pool", name, "nodes", max(lp.nodes, 1), "error", err)
			}
			lp.granted, lp.viaRed = capacity/float64(max(lp.nodes, 1)), false
		} else {
			lp.granted, lp.nodes, lp.viaRed = g.Lease, g.Nodes, true
		}
		p.setCapacity(lp.granted)
	}
	if l.down && !failed {
		l.log.Info("Redis answers again; TPS and LLM pools hold cluster leases again")
	}
	l.down = failed
	for name, lp := range l.leased {
		if _, ok := pools[name]; !ok {
			l.release(ctx, name, lp)
		}
	}
	return every
}

// demand is the pool's arrivals per second since the last renewal (its recent demand, on the
// first renewal of a pool).
func (lp *leasedPool) demand(p leasable, now time.Time) float64 {
	arrived, recent := p.arrivals()
	fresh := lp.src != p
	prev, at := lp.arrived, lp.at
	lp.src, lp.arrived, lp.at = p, arrived, now
	if fresh || arrived < prev || !now.After(at) {
		return recent
	}
	return (arrived - prev) / now.Sub(at).Seconds()
}

func (l *poolLeases) release(ctx context.Context, name string, lp *leasedPool) {
	delete(l.leased, name)
	rctx, cancel := context.WithTimeout(ctx, max(l.timeout, time.Second))
	defer cancel()
	if err := lp.lease.Release(rctx); err != nil {
		l.log.Warn("giving a pool's cluster lease back", "pool", name, "error", err)
	}
}

// close stops renewing and gives every lease back, once the node admits nothing more.
func (l *poolLeases) close() {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, lp := range l.leased {
		l.release(context.Background(), name, lp)
	}
}

// view is a pool's lease (by lease name) for the admin API; nil when the node holds none.
func (l *poolLeases) view(name string) map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	lp := l.leased[name]
	if lp == nil {
		return nil
	}
	return map[string]any{"node": l.node, "lease": lp.granted, "nodes": lp.nodes, "from_redis": lp.viaRed}
}

// leasablePools are the running config's pools whose capacity the cluster shares.
func (g *Gateway) leasablePools() map[string]leasable {
	s := g.snap.Load()
	out := make(map[string]leasable, len(s.tps))
	for name, p := range s.tps {
		out["tps:"+name] = tpsLeasable{name: name, pool: p.pool, every: p.cfg.Tick.D()}
	}
	if s.llm != nil {
		addLLMLeasables(out, s.llm)
	}
	return out
}

// tpsLeasable is a TPS pool's side of its lease.
type tpsLeasable struct {
	name  string
	pool  *tps.Pool
	every time.Duration
}

func (p tpsLeasable) capacity() float64 { return p.pool.Config().Capacity }

func (p tpsLeasable) arrivals() (total, recent float64) {
	var n uint64
	for _, sv := range p.pool.Snapshot().Services {
		n += sv.Arrived
		recent += sv.Demand
	}
	return float64(n), recent
}

// usage is nothing: the TPS pools' upstreams count by the second, which leaseHold covers.
func (tpsLeasable) usage() cluster.Usage    { return cluster.Usage{} }
func (p tpsLeasable) setCapacity(c float64) { p.pool.SetCapacity(c) }

// inherit is nothing: what a TPS pool admitted leaves its upstream's window within leaseHold.
func (tpsLeasable) inherit(leasable) {}

func (p tpsLeasable) tick() time.Duration { return p.every }
func (p tpsLeasable) metric(lease float64) prometheus.Metric {
	return prometheus.MustNewConstMetric(descTPSLease, prometheus.GaugeValue, lease, p.name)
}

// tpsLeaseView is GET /tps's "cluster" object of a pool; nil when standalone.
func (g *Gateway) tpsLeaseView(pool string) map[string]any {
	if g.cluster == nil || g.cluster.leases == nil {
		return nil
	}
	return g.cluster.leases.view("tps:" + pool)
}

var (
	descTPSLease         = desc("aya_tps_cluster_lease", "The part of a TPS pool's capacity this node holds, requests per second (its lease, or the fallback while Redis does not answer).", "pool")
	descTPSLeaseFallback = desc("aya_tps_cluster_lease_fallback", "1 while this node's TPS pools and LLM deployment pools run on capacity ÷ nodes because Redis does not answer.")
	descTPSLeaseErrs     = desc("aya_tps_cluster_lease_errors_total", "Lease renewals (TPS pools and LLM deployment pools) that failed.")
)

func (l *poolLeases) Describe(ch chan<- *prometheus.Desc) {
	ch <- descTPSLease
	ch <- descLLMLease
	ch <- descTPSLeaseFallback
	ch <- descTPSLeaseErrs
}

func (l *poolLeases) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := make([]string, 0, len(l.leased))
	for name := range l.leased {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		lp := l.leased[name]
		ch <- lp.src.metric(lp.granted)
	}
	ch <- prometheus.MustNewConstMetric(descTPSLeaseFallback, prometheus.GaugeValue, b2f(l.down))
	ch <- prometheus.MustNewConstMetric(descTPSLeaseErrs, prometheus.CounterValue, float64(l.errs))
}
