package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	goredis "github.com/redis/go-redis/v9"

	"aya/internal/cluster"
	"aya/internal/config"
	"aya/internal/state"
	"aya/internal/state/batched"
	"aya/internal/state/redis"
)

// clusterPrefix starts every Redis key aya writes.
const clusterPrefix = "aya:"

// clusterProbeEvery is how often a node whose Redis failed checks whether it is back.
const clusterProbeEvery = 250 * time.Millisecond

// clusterState is what a node of a cluster keeps: the Redis client, the rate limiter that
// decides through it, and the node's membership. nil when aya runs standalone.
type clusterState struct {
	cfg     config.Cluster
	client  goredis.UniversalClient
	limiter *clusterLimiter
	members *cluster.Membership
	bus     *cluster.Bus     // spreads admin changes
	leases  *poolLeases      // this node's leases on the TPS and LLM pools' capacities; nil until joined
	batched *batched.Limiter // sync: batched's token reservations; nil with sync: exact
	started time.Time
	log     *slog.Logger
}

// openCluster connects to cfg's Redis (without waiting for it: a node starts while Redis is
// down and limits on its own until it answers) and makes every rate_limit decide through it.
func (g *Gateway) openCluster(cfg *config.Config) error {
	g.HandleAdmin("GET /cluster", http.HandlerFunc(g.handleCluster), false)
	c := cfg.Cluster
	if c == nil {
		return nil
	}
	client, err := newRedisClient(c)
	if err != nil {
		return fmt.Errorf("%s:%d: %w", cfg.File, c.Line, err)
	}
	t := c.Timeout.D()
	cs := &clusterState{cfg: *c, client: client, started: time.Now().UTC(), log: g.log.With("node", c.Node)}
	exact := redis.New(client, clusterPrefix+"rl:")
	remote := state.Limiter(exact)
	if c.Sync == "batched" {
		cs.batched = batched.New(exact, exact, batched.Options{Batch: c.Batch, Timeout: t, Log: cs.log})
		remote = cs.batched
	}
	cs.limiter = &clusterLimiter{
		remote:     remote,
		local:      g.pol.limit.store,
		timeout:    t,
		failClosed: c.OnRedisDown == "closed",
		ping:       func(ctx context.Context) error { return client.Ping(ctx).Err() },
		log:        cs.log,
		stop:       make(chan struct{}),
	}
	cs.limiter.up.Store(true)
	g.pol.limit.shared, g.pol.limit.failClosed = cs.limiter, cs.limiter.failClosed
	if err := g.metrics.Register(cs.limiter); err != nil {
		if cs.batched != nil {
			cs.batched.Close()
		}
		client.Close()
		return err
	}
	g.cluster = cs
	return g.openClusterSync(cs)
}

// newRedisClient connects to the Redis c names: one server, Sentinels (master_name in the
// URL) or a Redis Cluster. Each call waits at most c.Timeout and is not retried: a decision
// has Timeout in all, and a retry inside it would only delay the fallback.
func newRedisClient(c *config.Cluster) (goredis.UniversalClient, error) {
	t := c.Timeout.D()
	// go-redis's messages may repeat the URL, password included.
	bad := func(err error) error {
		return fmt.Errorf("cluster: redis URL is not usable: %s", strings.ReplaceAll(err.Error(), c.Redis, "(the URL)"))
	}
	switch {
	case c.RedisCluster:
		o, err := goredis.ParseClusterURL(c.Redis)
		if err != nil {
			return nil, bad(err)
		}
		o.ReadTimeout, o.WriteTimeout, o.ContextTimeoutEnabled, o.MaxRetries = t, t, true, -1
		return goredis.NewClusterClient(o), nil
	case strings.Contains(c.Redis, "master_name="):
		o, err := goredis.ParseFailoverURL(c.Redis)
		if err != nil {
			return nil, bad(err)
		}
		o.ReadTimeout, o.WriteTimeout, o.ContextTimeoutEnabled, o.MaxRetries = t, t, true, -1
		return goredis.NewFailoverClient(o), nil
	default:
		o, err := goredis.ParseURL(c.Redis)
		if err != nil {
			return nil, bad(err)
		}
		o.ReadTimeout, o.WriteTimeout, o.ContextTimeoutEnabled, o.MaxRetries = t, t, true, -1
		return goredis.NewClient(o), nil
	}
}

// checkCluster finds the Redis URL problems only go-redis sees (unknown query options), for
// aya validate; it connects to nothing.
func checkCluster(cfg *config.Config) error {
	if cfg.Cluster == nil {
		return nil
	}
	c, err := newRedisClient(cfg.Cluster)
	if err != nil {
		return fmt.Errorf("%s:%d: %w", cfg.File, cfg.Cluster.Line, err)
	}
	return c.Close()
}

// joinCluster registers the node once its admin API is bound (its address is part of the
// registration).
func (g *Gateway) joinCluster(ctx context.Context, admin string) {
	cs := g.cluster
	if cs == nil {
		return
	}
	g.runClusterSync(ctx)
	cs.leases = newPoolLeases(cs.client, cs.cfg.Node, cs.cfg.Timeout.D(), g.leasablePools, cs.log)
	if err := g.metrics.Register(cs.leases); err != nil {
		cs.log.Warn("cluster lease metrics are not exported", "error", err)
	}
	cs.leases.start()
	m, err := cluster.Join(ctx, cs.client, cluster.Node{Name: cs.cfg.Node, Version: version(), Admin: admin, Started: cs.started},
		cluster.Options{Prefix: clusterPrefix, Log: cs.log})
	if err != nil {
		cs.log.Error("joining the cluster failed; this node serves but is not listed", "error", err)
		return
	}
	cs.members = m
}

// leaveCluster deregisters the node as its shutdown begins, so the others stop listing it
// while it drains.
func (g *Gateway) leaveCluster() {
	cs := g.cluster
	if cs == nil || cs.members == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := cs.members.Leave(ctx); err != nil {
		cs.log.Warn("leaving the cluster", "error", err)
	}
	cs.members = nil
}

// closeCluster closes the Redis client once no request needs it any more.
func (g *Gateway) closeCluster() {
	cs := g.cluster
	if cs == nil {
		return
	}
	cs.limiter.close()
	if cs.batched != nil {
		cs.batched.Close()
	}
	if cs.leases != nil {
		cs.leases.close() // after the pools stopped: the node admits nothing more
	}
	cs.client.Close()
}

// limiter is the store rate_limit policies decide on: the cluster's when there is one.
func (l *limitState) limiter() state.Limiter {
	if l.shared != nil {
		return l.shared
	}
	return l.store
}

// limiterFor is the limiter of a policy whose on_redis_down is mode ("": the cluster's), and
// whether it fails closed.
func (l *limitState) limiterFor(mode string) (state.Limiter, bool) {
	c, ok := l.shared.(*clusterLimiter)
	if !ok || mode == "" || (mode == "closed") == c.failClosed {
		return l.limiter(), l.failClosed
	}
	return clusterMode{c: c, failClosed: mode == "closed"}, mode == "closed"
}

// clusterMode is the cluster limiter with a policy's own on_redis_down.
type clusterMode struct {
	c          *clusterLimiter
	failClosed bool
}

func (m clusterMode) Allow(ctx context.Context, key string, l state.Limit, now time.Time) (state.Decision, error) {
	return m.c.allow(ctx, key, l, now, m.failClosed)
}

// clusterReloaded warns that cluster settings only change on restart: the Redis connection,
// node name and registration are made once.
func (g *Gateway) clusterReloaded(old, next *config.Config) {
	a, b := old.Cluster, next.Cluster
	if a != nil && b != nil {
		x, y := *a, *b
		x.Line, y.Line = 0, 0
		a, b = &x, &y
	}
	if !reflect.DeepEqual(a, b) {
		g.log.Warn("cluster settings changed; they take effect on restart")
	}
}

// clusterAnswer is GET /cluster's body.
type clusterAnswer struct {
	Mode    string         `json:"mode"` // standalone or redis
	Node    string         `json:"node,omitempty"`
	RedisUp *bool          `json:"redis_up,omitempty"`
	Nodes   []cluster.Node `json:"nodes,omitempty"`
}

func (g *Gateway) handleCluster(w http.ResponseWriter, r *http.Request) {
	cs := g.cluster
	if cs == nil {
		writeJSON(w, http.StatusOK, clusterAnswer{Mode: "standalone"})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), max(cs.limiter.timeout, time.Second))
	defer cancel()
	nodes, err := cluster.Live(ctx, cs.client, clusterPrefix)
	if err != nil {
		cs.log.Warn("listing cluster nodes", "error", err)
		adminError(w, http.StatusServiceUnavailable, "Redis does not answer, so the cluster's nodes cannot be listed: check that cluster.redis is up and reachable from this node")
		return
	}
	up := cs.limiter.up.Load()
	writeJSON(w, http.StatusOK, clusterAnswer{Mode: "redis", Node: cs.cfg.Node, RedisUp: &up, Nodes: nodes})
}

// version is the binary's module version, or "dev" for a build outside a release.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// errRedisDown is what a fail-closed limiter answers while Redis is down: the policy turns it
// into a 503.
var errRedisDown = errors.New("cluster: Redis is unreachable and on_redis_down is closed")

// clusterLimiter decides through Redis, so the cluster's nodes share every limit, and falls
// back when Redis fails: open decides on the node's own memory store (the same limit, per
// node), closed answers an error (a 503). After a failure it stops asking Redis on the
// request path (a down Redis would otherwise cost every request the timeout) and probes it in
// the background until it answers again.
type clusterLimiter struct {
	remote     state.Limiter
	local      state.Limiter
	timeout    time.Duration
	failClosed bool
	ping       func(context.Context) error
	log        *slog.Logger

	up        atomic.Bool
	probing   atomic.Bool
	errs      atomic.Int64
	fallbacks atomic.Int64 // decisions made without Redis
	stop      chan struct{}
	stopped   atomic.Bool
}

func (c *clusterLimiter) Allow(ctx context.Context, key string, l state.Limit, now time.Time) (state.Decision, error) {
	return c.allow(ctx, key, l, now, c.failClosed)
}

func (c *clusterLimiter) allow(ctx context.Context, key string, l state.Limit, now time.Time, failClosed bool) (state.Decision, error) {
	if c.up.Load() {
		rctx, cancel := context.WithTimeout(ctx, c.timeout)
		d, err := c.remote.Allow(rctx, key, l, now)
		cancel()
		if err == nil {
			return d, nil
		}
		if ctx.Err() != nil {
			return d, ctx.Err() // the client left; Redis is not to blame
		}
		c.failed(err)
	}
	c.fallbacks.Add(1)
	if failClosed {
		return state.Decision{}, errRedisDown
	}
	return c.local.Allow(ctx, key, l, now)
}

// failed marks Redis down and starts the probe that brings it back.
func (c *clusterLimiter) failed(err error) {
	c.errs.Add(1)
	if c.up.CompareAndSwap(true, false) {
		mode := "open: each node limits on its own"
		if c.failClosed {
			mode = "closed: rate-limited routes answer 503"
		}
		c.log.Error("Redis failed; rate limits fall back until it answers ("+mode+")", "error", err)
	}
	if c.probing.CompareAndSwap(false, true) && !c.stopped.Load() {
		go c.probe()
	}
}

func (c *clusterLimiter) probe() {
	defer c.probing.Store(false)
	t := time.NewTicker(clusterProbeEvery)
	defer t.Stop()
	down := time.Now()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(c.timeout, 100*time.Millisecond))
		err := c.ping(ctx)
		cancel()
		if err != nil {
			c.errs.Add(1)
			continue
		}
		c.up.Store(true)
		c.log.Info("Redis answers again; rate limits are global again", "down_for", time.Since(down).Round(time.Millisecond))
		return
	}
}

func (c *clusterLimiter) close() {
	if c.stopped.CompareAndSwap(false, true) {
		close(c.stop)
	}
}

var (
	descClusterUp    = desc("aya_cluster_redis_up", "1 while this node's rate limits decide through Redis, 0 while they fall back (on_redis_down).")
	descClusterErrs  = desc("aya_cluster_redis_errors_total", "Redis calls that failed or exceeded cluster.timeout (decisions and the probes while Redis is down).")
	descClusterLocal = desc("aya_cluster_fallback_decisions_total", "Rate-limit decisions made without Redis (by the node alone, or refused with on_redis_down: closed).")
)

func (c *clusterLimiter) Describe(ch chan<- *prometheus.Desc) {
	ch <- descClusterUp
	ch <- descClusterErrs
	ch <- descClusterLocal
}

func (c *clusterLimiter) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descClusterUp, prometheus.GaugeValue, b2f(c.up.Load()))
	ch <- prometheus.MustNewConstMetric(descClusterErrs, prometheus.CounterValue, float64(c.errs.Load()))
	ch <- prometheus.MustNewConstMetric(descClusterLocal, prometheus.CounterValue, float64(c.fallbacks.Load()))
}
