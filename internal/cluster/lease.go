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
//
// An upstream that counts over a window longer than Hold (a provider's tokens per minute) still
// counts what a node admitted after its lease shrank or lapsed: each node also reports that
// (Usage), and it counts against the others like a lease until the window has passed.

// leaseScript renews ARGV[1]'s lease on the capacity KEYS[1] holds: ARGV[2] demand, ARGV[3]
// capacity, ARGV[4] TTL ms, ARGV[5] hold ms, ARGV[6] what the node admitted that the upstream
// still counts (per second of its window), ARGV[7] how long that counts (the window, ms; 0: the
// hold covers it). It returns {lease, live nodes}.
//
// Each entry is "demand lease expires held held_until used used_until" (ms since the epoch; the
// last two may be missing). An entry whose lease expired still counts its used until used_until:
// a dead node's admissions stay in the upstream's window after its lease lapsed.
var leaseScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local node, demand, cap = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local ttl, hold = tonumber(ARGV[4]), tonumber(ARGV[5])
local used, window = tonumber(ARGV[6]), tonumber(ARGV[7])
local all = redis.call('HGETALL', KEYS[1])
local demands = {}
local old, held, heldUntil, others, keep = 0, 0, 0, 0, 0
for i = 1, #all, 2 do
  local f = {}
  for x in string.gmatch(all[i+1], '%S+') do f[#f+1] = tonumber(x) end
  local d, l, exp, h, hu, u, uu = f[1], f[2], f[3], f[4], f[5], f[6] or 0, f[7] or 0
  if not (d and l and exp and h and hu and u and uu) or (exp <= now and uu <= now) then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] == node then
    if exp > now then old, held, heldUntil = l, h, hu end
  else
    local c = 0
    if exp > now then
      demands[#demands+1] = d
      c = l
      if hu > now and h > c then c = h end
    end
    if uu > now and u > c then c = u end
    others = others + c
    keep = math.max(keep, exp - now, uu - now)
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
-- Without a window the entry keeps the five fields a node before Usage reads (a rolling
-- upgrade); such a node never shares a capacity that has one.
local entry = string.format('%.17g %.17g %d %.17g %d', demand, mine, now + ttl, held, heldUntil)
if window > 0 then entry = entry .. string.format(' %.17g %d', used, now + window) end
redis.call('HSET', KEYS[1], node, entry)
redis.call('PEXPIRE', KEYS[1], math.max(ttl, hold, window, keep))
return {string.format('%.17g', mine), n}
`)

// releaseScript gives ARGV[1]'s lease back: it drops to 0 at once, but keeps counting at its
// old size for ARGV[2] ms (what the node admitted is still in the upstream's window) and
// then disappears; what it reported as used still counts until its own end.
var releaseScript = goredis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HGET', KEYS[1], ARGV[1])
if not v then return 0 end
local f = {}
for x in string.gmatch(v, '%S+') do f[#f+1] = tonumber(x) end
local l, h, hu, u, uu = f[2] or 0, f[4] or 0, f[5] or 0, f[6] or 0, f[7] or 0
if hu <= now then h = 0 end
local hold = tonumber(ARGV[2])
local entry = string.format('0 0 %d %.17g %d', now + hold, math.max(h, l), now + hold)
if #f >= 7 then entry = entry .. string.format(' %.17g %d', u, uu) end
redis.call('HSET', KEYS[1], ARGV[1], entry)
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
	return l.RenewUsage(ctx, capacity, demand, Usage{})
}

// Usage is what a node admitted under its lease that the upstream still counts, for a capacity
// the upstream counts over a window longer than the lease's Hold (a provider's tokens per
// minute): the others' leases leave room for it until it has left the window, even when this
// node's lease shrank or lapsed meanwhile.
type Usage struct {
	// Used is what the node admitted within the last Window, per second of Window (the
	// capacity's unit); it counts against the others as if it were a lease.
	Used float64
	// Window is how long Used counts from this renewal on; 0: it does not.
	Window time.Duration
}

// RenewUsage is Renew for a capacity counted over a window: the others' leases leave room for
// u.Used until u.Window has passed, and this node's window limit stays within its lease (see
// Usage). So the nodes' admissions within any window add up to at most the capacity × window,
// as long as each node admits only while what it admitted in the window is within its lease ×
// window.
func (l *Lease) RenewUsage(ctx context.Context, capacity, demand float64, u Usage) (Grant, error) {
	if !(demand >= 0) {
		demand = 0
	}
	if !(u.Used >= 0) || u.Window <= 0 {
		u = Usage{}
	}
	v, err := leaseScript.Run(ctx, l.c, []string{l.key}, l.node, fmtFloat(demand), fmtFloat(capacity),
		l.ttl.Milliseconds(), l.hold.Milliseconds(), fmtFloat(u.Used), u.Window.Milliseconds()).Slice()
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
