package config

import (
	"net/url"
	"os"
	"time"
)

// Cluster makes several aya processes behave as one gateway by sharing state in Redis: with
// it, rate limits count across every node and each node registers itself so the admin API
// lists the live ones. Without it (nil), aya is standalone and keeps all state in memory.
type Cluster struct {
	Line int `yaml:"-"`

	// Redis is the server every node shares: redis://[user:password@]host:port[/db],
	// rediss:// for TLS, or unix:///path/to/redis.sock. It may hold a password, so dumps
	// hide it. With ?master_name=NAME it names Redis Sentinels (more with &addr=host:port);
	// with RedisCluster, the seed nodes of a Redis Cluster (more with ?addr=host:port).
	Redis string `yaml:"redis" secret:"true"`
	// RedisCluster says Redis is a Redis Cluster (sharded), not one server.
	RedisCluster bool `yaml:"redis_cluster"`
	// Node names this process among the cluster's members; empty: the host name. Two live
	// nodes must not share a name.
	Node string `yaml:"node"`
	// OnRedisDown is what rate limits do when Redis does not answer within Timeout: open
	// (each node limits on its own with the same limit, so N nodes pass up to N times it) or
	// closed (503 until Redis is back).
	OnRedisDown string `yaml:"on_redis_down" default:"open"`
	// Timeout bounds one Redis decision; past it the request is decided per OnRedisDown.
	Timeout Duration `yaml:"timeout" default:"50ms"`
	// Sync is how gcra rate limits count in Redis: exact (one round trip per decision, the
	// burst is the cluster's) or batched (each node takes tokens in batches and hands them out
	// itself, for keys too hot for a round trip each). Other algorithms are always exact.
	Sync string `yaml:"sync" default:"exact"`
	// Batch is how many tokens a batched node takes at once; 0 sizes it per limit (1% of a
	// second's rate, at most a quarter of the burst).
	Batch int64 `yaml:"batch"`
}

// maxClusterBatch bounds batch: a node holding more than this is no longer one limit.
const maxClusterBatch = 100000

// maxClusterTimeout keeps a slow Redis from holding every request for long.
const maxClusterTimeout = 10 * time.Second

// cluster validates cluster: and fills in the node name.
func (v *validator) cluster(cfg *Config) {
	c := cfg.Cluster
	if c == nil || v.bad["cluster"] {
		return
	}
	line := v.line("cluster", c.Line)
	switch {
	case c.Redis == "":
		v.errAt("cluster.redis", line, "cluster: redis is required: the shared Redis server's URL, like redis://127.0.0.1:6379")
	default:
		u, err := url.Parse(c.Redis)
		switch {
		case err != nil:
			// url's message repeats the URL, which may hold a password
			v.errAt("cluster.redis", line, "cluster: redis is not a URL: write redis://host:port, rediss://host:port or unix:///path/redis.sock")
		case u.Scheme != "redis" && u.Scheme != "rediss" && u.Scheme != "unix":
			v.errAt("cluster.redis", line, "cluster: redis URL scheme %q: use redis://host:port, rediss://host:port (TLS) or unix:///path/redis.sock", u.Scheme)
		case u.Scheme != "unix" && u.Host == "":
			v.errAt("cluster.redis", line, "cluster: redis URL names no host: write %s://host:port", u.Scheme)
		case u.Scheme == "unix" && u.Path == "":
			v.errAt("cluster.redis", line, "cluster: redis unix URL names no socket: write unix:///path/redis.sock")
		case c.RedisCluster && u.Query().Has("master_name"):
			v.errAt("cluster.redis_cluster", line, "cluster: redis names Sentinels (master_name) and redis_cluster is set: Sentinel serves one primary, a Redis Cluster has no master_name; keep one")
		case u.Scheme == "unix" && (c.RedisCluster || u.Query().Has("master_name")):
			v.errAt("cluster.redis", line, "cluster: a unix socket is one local Redis: Sentinel and Redis Cluster take redis:// or rediss:// addresses")
		}
	}
	if c.Node == "" {
		h, err := os.Hostname()
		if err != nil || !validName(h) {
			v.errAt("cluster", line, "cluster: node is not set and the host name %q cannot name it: set node: to a name of letters, digits, '-', '_' and '.'", h)
		}
		c.Node = h
	} else if !validName(c.Node) {
		v.errAt("cluster.node", line, "cluster: node %q: use letters, digits, '-', '_' and '.'", c.Node)
	}
	if c.OnRedisDown != "open" && c.OnRedisDown != "closed" {
		v.errAt("cluster.on_redis_down", line, "cluster: on_redis_down %q: use open (each node limits on its own) or closed (503 until Redis is back)", c.OnRedisDown)
	}
	switch {
	case c.Sync != "exact" && c.Sync != "batched":
		v.errAt("cluster.sync", line, "cluster: sync %q: use exact (one Redis round trip per decision) or batched (nodes take tokens in batches)", c.Sync)
	case c.Batch < 0 || c.Batch > maxClusterBatch:
		v.errAt("cluster.batch", line, "cluster: batch %d: want 0 (sized per limit) to %d tokens", c.Batch, maxClusterBatch)
	case c.Batch > 0 && c.Sync != "batched":
		v.errAt("cluster.batch", line, "cluster: batch is set but sync is %q: set sync: batched, or remove batch", c.Sync)
	}
	if t := c.Timeout.D(); t <= 0 || t > maxClusterTimeout {
		v.errAt("cluster.timeout", line, "cluster: timeout %v: want more than 0 and at most %v (a Redis round trip on a LAN takes well under 1ms)", t, maxClusterTimeout)
	}
}
