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

// A cluster shares each TPS pool's capacity: every node holds a lease on part of it, sized by
// its demand, and runs its local pool with the lease as its capacity (cluster.Lease has the
// allocation). The leases are renewed together at the shortest pool tick.
const (
	minLeaseEvery = 50 * time.Millisecond
	maxLeaseEvery = time.Second
	// leaseHold is the upstream's rate window: a lease that shrank still counts at its old
	// size for that long, because what was admitted under it is still in the window.
	leaseHold = time.Second
)

// tpsLeases keeps this node's leases on the capacities of the TPS pools of the running
// config, and falls back to capacity ÷ the nodes last seen while Redis does not answer: if
// every node does the same, they still add up to the capacity.
type tpsLeases struct {
	client  goredis.UniversalClient
	node    string
	timeout time.Duration
	pools   func() map[string]*tpsPool // the running config's
	log     *slog.Logger

	mu     sync.Mutex
	leased map[string]*leasedPool // by pool name
	down   bool                   // the last renewal failed
	errs   int64

	stop chan struct{}
	done chan struct{}
}

// leasedPool is one pool's lease and what its demand is measured from.
type leasedPool struct {
	lease   *cluster.Lease
	pool    *tps.Pool // a reload may replace the pool under the same name
	arrived uint64    // the pool's arrivals at the last renewal
	at      time.Time
	granted float64 // the capacity the local pool runs with
	nodes   int     // live nodes at the last successful renewal
	viaRed  bool    // granted by Redis, not the fallback
}

func newTPSLeases(client goredis.UniversalClient, node string, timeout time.Duration, pools func() map[string]*tpsPool, log *slog.Logger) *tpsLeases {
	return &tpsLeases{client: client, node: node, timeout: max(timeout, 100*time.Millisecond), pools: pools, log: log,
		leased: map[string]*leasedPool{}, stop: make(chan struct{}), done: make(chan struct{})}
}

// every is the renewal interval: the shortest pool tick, within bounds.
func (l *tpsLeases) every() time.Duration {
	d := maxLeaseEvery
	for _, p := range l.pools() {
		d = min(d, p.cfg.Tick.D())
	}
	return max(d, minLeaseEvery)
}

// ttl is how long a lease outlives its last renewal: three renewals, and at least the hold
// plus one renewal, so a dead node's admissions have left the upstream's window before the
// others take its share.
func ttlFor(every time.Duration) time.Duration { return max(3*every, leaseHold+every) }

// start renews once (so the pools start at their leases, not at the whole capacity) and then
// keeps renewing until close.
func (l *tpsLeases) start() {
	l.renew(context.Background())
	go l.run()
}

func (l *tpsLeases) run() {
	defer close(l.done)
	t := time.NewTimer(l.every())
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
		}
		l.renew(context.Background())
		t.Reset(l.every())
	}
}

// renew renews the lease of every pool of the running config, and gives back those of pools
// the config dropped.
func (l *tpsLeases) renew(ctx context.Context) {
	pools := l.pools()
	every := l.every()
	l.mu.Lock()
	defer l.mu.Unlock()
	failed := false
	for name, p := range pools {
		lp := l.leased[name]
		if lp == nil {
			lease, err := cluster.NewLease(l.client, "tps:"+name, l.node, cluster.LeaseOptions{Prefix: clusterPrefix, TTL: ttlFor(every), Hold: leaseHold})
			if err != nil {
				l.log.Error("TPS pool runs without a cluster lease", "tps_pool", name, "error", err)
				continue
			}
			lp = &leasedPool{lease: lease}
			l.leased[name] = lp
		}
		capacity := p.pool.Config().Capacity
		demand := lp.demand(p.pool, time.Now())
		rctx, cancel := context.WithTimeout(ctx, l.timeout)
		g, err := lp.lease.Renew(rctx, capacity, demand)
		cancel()
		if err != nil {
			failed = true
			l.errs++
			if !l.down {
				l.log.Error("Redis failed; TPS pools fall back to capacity ÷ the nodes last seen until it answers",
					"tps_pool", name, "nodes", max(lp.nodes, 1), "error", err)
			}
			lp.granted, lp.viaRed = capacity/float64(max(lp.nodes, 1)), false
		} else {
			lp.granted, lp.nodes, lp.viaRed = g.Lease, g.Nodes, true
		}
		p.pool.SetCapacity(lp.granted)
	}
	if l.down && !failed {
		l.log.Info("Redis answers again; TPS pools hold cluster leases again")
	}
	l.down = failed
	for name, lp := range l.leased {
		if _, ok := pools[name]; !ok {
			l.release(ctx, name, lp)
		}
	}
}

// demand is the pool's arrivals per second since the last renewal (the last tick's, on the
// first renewal of a pool).
func (lp *leasedPool) demand(p *tps.Pool, now time.Time) float64 {
	s := p.Snapshot()
	var arrived uint64
	last := 0.0
	for _, sv := range s.Services {
		arrived += sv.Arrived
		last += sv.Demand
	}
	fresh := lp.pool != p
	prev, at := lp.arrived, lp.at
	lp.pool, lp.arrived, lp.at = p, arrived, now
	if fresh || arrived < prev || !now.After(at) {
		return last
	}
	return float64(arrived-prev) / now.Sub(at).Seconds()
}

func (l *tpsLeases) release(ctx context.Context, name string, lp *leasedPool) {
	delete(l.leased, name)
	rctx, cancel := context.WithTimeout(ctx, max(l.timeout, time.Second))
	defer cancel()
	if err := lp.lease.Release(rctx); err != nil {
		l.log.Warn("giving a TPS lease back", "tps_pool", name, "error", err)
	}
}

// close stops renewing and gives every lease back, once the node admits nothing more.
func (l *tpsLeases) close() {
	close(l.stop)
	<-l.done
	l.mu.Lock()
	defer l.mu.Unlock()
	for name, lp := range l.leased {
		l.release(context.Background(), name, lp)
	}
}

// view is a pool's lease for GET /tps; nil when the node holds none.
func (l *tpsLeases) view(name string) map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	lp := l.leased[name]
	if lp == nil {
		return nil
	}
	return map[string]any{"node": l.node, "lease": lp.granted, "nodes": lp.nodes, "from_redis": lp.viaRed}
}

// tpsLeaseView is GET /tps's "cluster" object of a pool; nil when standalone.
func (g *Gateway) tpsLeaseView(pool string) map[string]any {
	if g.cluster == nil || g.cluster.leases == nil {
		return nil
	}
	return g.cluster.leases.view(pool)
}

var (
	descTPSLease         = desc("aya_tps_cluster_lease", "The part of a TPS pool's capacity this node holds, requests per second (its lease, or the fallback while Redis does not answer).", "pool")
	descTPSLeaseFallback = desc("aya_tps_cluster_lease_fallback", "1 while this node's TPS pools run on capacity ÷ nodes because Redis does not answer.")
	descTPSLeaseErrs     = desc("aya_tps_cluster_lease_errors_total", "TPS lease renewals that failed.")
)

func (l *tpsLeases) Describe(ch chan<- *prometheus.Desc) {
	ch <- descTPSLease
	ch <- descTPSLeaseFallback
	ch <- descTPSLeaseErrs
}

func (l *tpsLeases) Collect(ch chan<- prometheus.Metric) {
	l.mu.Lock()
	defer l.mu.Unlock()
	names := make([]string, 0, len(l.leased))
	for name := range l.leased {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		ch <- prometheus.MustNewConstMetric(descTPSLease, prometheus.GaugeValue, l.leased[name].granted, name)
	}
	ch <- prometheus.MustNewConstMetric(descTPSLeaseFallback, prometheus.GaugeValue, b2f(l.down))
	ch <- prometheus.MustNewConstMetric(descTPSLeaseErrs, prometheus.CounterValue, float64(l.errs))
}
