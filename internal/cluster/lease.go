package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// A capacity shared by the cluster (a TPS pool's cap) is split into leases, one per node,
// sized by demand the way Google's Doorman does: each node asks again every tick with its
// current demand and gets its share back. The shares and the lease table live in one Redis
// hash per capacity, changed only by a Lua script, so a renewal is one round trip and atomic.
//
// Invariant: the leases held add up to at most the capacity. A node's new lease is its
// computed share, but never more than what the other nodes' current leases leave, so a node
// whose demand grows gets the room others give up only once they renewed. A lease that
// shrinks keeps counting at its old size for Hold (the upstream's window still holds what was
// admitted under it), and a node that stops renewing loses its lease after TTL. Redis's own
// clock (TIME) dates leases, so the nodes' clocks do not matter.

// leaseScript renews ARGV[1]'s lease on the capacity KEYS[1] holds: ARGV[2] demand, ARGV[3]
// capacity, ARGV[4] TTL ms, ARGV[5] hold ms. It returns {lease, live nodes}.
//
// Each entry is "demand lease expires held held_until" (ms since the epoch).
var leaseScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local node, demand, cap = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local ttl, hold = tonumber(ARGV[4]), tonumber(ARGV[5])
local all = redis.call('HGETALL', KEYS[1])
local demands = {}
local old, held, heldUntil, others = 0, 0, 0, 0
for i = 1, #all, 2 do
  local d, l, exp, h, hu = string.match(all[i+1], '^(%S+) (%S+) (%S+) (%S+) (%S+)$')
  d, l, exp, h, hu = tonumber(d), tonumber(l), tonumber(exp), tonumber(h), tonumber(hu)
  if not (d and l and exp and h and hu) or exp <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] == node then
    old, held, heldUntil = l, h, hu
  else
    demands[#demands+1] = d
    if hu > now and h > l then l = h end
    others = others + l
  end
end
demands[#demands+1] = demand
local n = #demands
-- Max-min fair: every node gets its demand up to an equal share; what that leaves goes to
-- the unmet demands in proportion; what demand leaves, equally, so that a node whose demand
-- jumps can admit at once.
local fair, share, rest, unmet = cap / n, {}, cap, 0
for i = 1, n do
  share[i] = math.min(demands[i], fair)
  rest = rest - share[i]
  unmet = unmet + demands[i] - share[i]
end
if rest > 0 and unmet > 0 then
  local k = math.min(1, rest / unmet)
  for i = 1, n do share[i] = share[i] + (demands[i] - share[i]) * k end
  rest = rest - math.min(rest, unmet)
end
local mine = share[n] + math.max(rest, 0) / n
mine = math.max(0, math.min(mine, cap - others))
if heldUntil <= now then held, heldUntil = 0, 0 end
if mine < old then held, heldUntil = math.max(held, old), now + hold end
local ttlOf = math.max(ttl, hold)
redis.call('HSET', KEYS[1], node, string.format('%.17g %.17g %d %.17g %d', demand, mine, now + ttl, held, heldUntil))
redis.call('PEXPIRE', KEYS[1], ttlOf)
return {string.format('%.17g', mine), n}
`)

// releaseScript gives ARGV[1]'s lease back: it drops to 0 at once, but keeps counting at its
// old size for ARGV[2] ms (what the node admitted is still in the upstream's window) and
// then disappears.
var releaseScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local l, h, hu = string.match(v, '^%S+ (%S+) %S+ (%S+) (%S+)$')
l, h, hu = tonumber(l) or 0, tonumber(h) or 0, tonumber(hu) or 0
if hu <= now then h = 0 end
local hold = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], string.format('0 0 %d %.17g %d', now + hold, math.max(h, l), now + hold))
return 1
`)

// LeaseOptions tune a Lease; zero values take the defaults.
type LeaseOptions struct {
	// Prefix starts the key; default "aya:".
	Prefix string
	// TTL is how long a lease outlives its last renewal; default 3s. Renew well within it
	// (every tick): a node that stops renewing loses its lease after TTL, and the others take
	// its share at their next renewal.
	TTL time.Duration
	// Hold is how long a lease that shrank, or was released, still counts at its old size:
	// the upstream's rate window. Default 1s.
	Hold time.Duration
}

// Lease is one node's lease on one shared capacity. Its methods are safe for concurrent use.
type Lease struct {
	c    goredis.UniversalClient
	key  string
	node string
	ttl  time.Duration
	hold time.Duration
}

// Grant is a renewal's answer.
type Grant struct {
	// Lease is the part of the capacity this node may use until its next renewal, per second.
	Lease float64
	// Nodes is how many nodes hold a live lease on the capacity, this one included.
	Nodes int
}

// NewLease names node's lease on the capacity called name. It talks to Redis only on Renew.
func NewLease(c goredis.UniversalClient, name, node string, o LeaseOptions) (*Lease, error) {
	if name == "" || node == "" {
		return nil, errors.New("cluster: a lease needs the capacity's name and the node's")
	}
	if o.Prefix == "" {
		o.Prefix = "aya:"
	}
	if o.TTL <= 0 {
		o.TTL = 3 * time.Second
	}
	if o.Hold <= 0 {
		o.Hold = time.Second
	}
	// The hash tag keeps the key in one slot on Redis Cluster; one key per capacity keeps
	// each script on one slot.
	return &Lease{c: c, key: o.Prefix + "{lease:" + name + "}", node: node, ttl: o.TTL, hold: o.Hold}, nil
}

// Renew reports this node's demand (requests per second) on a capacity of capacity requests
// per second and returns its new lease.
func (l *Lease) Renew(ctx context.Context, capacity, demand float64) (Grant, error) {
	if !(demand >= 0) {
		demand = 0
	}
	v, err := leaseScript.Run(ctx, l.c, []string{l.key}, l.node, fmtFloat(demand), fmtFloat(capacity),
		l.ttl.Milliseconds(), l.hold.Milliseconds()).Slice()
	if err != nil {
		return Grant{}, fmt.Errorf("cluster: renewing node %q's lease on %s: %w", l.node, l.key, err)
	}
	if len(v) != 2 {
		return Grant{}, fmt.Errorf("cluster: renewing node %q's lease on %s: unexpected answer %v", l.node, l.key, v)
	}
	s, _ := v[0].(string)
	lease, err := strconv.ParseFloat(s, 64)
	n, _ := v[1].(int64)
	if err != nil || n < 1 {
		return Grant{}, fmt.Errorf("cluster: renewing node %q's lease on %s: unexpected answer %v", l.node, l.key, v)
	}
	return Grant{Lease: lease, Nodes: int(n)}, nil
}

// Release gives the lease back, as a node that stops does: the others may take it once the
// Hold has passed, instead of after the TTL.
func (l *Lease) Release(ctx context.Context) error {
	if err := releaseScript.Run(ctx, l.c, []string{l.key}, l.node, l.hold.Milliseconds()).Err(); err != nil {
		return fmt.Errorf("cluster: releasing node %q's lease on %s (it lapses after %v): %w", l.node, l.key, l.ttl, err)
	}
	return nil
}

// TTL is how long the lease outlives its last renewal.
func (l *Lease) TTL() time.Duration { return l.ttl }

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }
