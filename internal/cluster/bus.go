package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Applier applies one record of a kind (an admin change another node made, or this node
// before a restart) to this node. It must be idempotent: a record may be applied again after
// a resync.
type Applier func(ctx context.Context, field string, value []byte) error

// publishScript writes one record of a kind with the next version and announces it, in one
// step, so a node that reads the hash after the event sees the record. The keys share the
// hash tag {state} so a Redis Cluster keeps them on one shard. A version is at least Redis's
// clock in milliseconds, so versions keep growing after a Redis restart that lost the counter
// (nodes would otherwise take new records for ones they applied).
var publishScript = goredis.NewScript(`
local t = redis.call('TIME')
local v = tonumber(redis.call('GET', KEYS[1]) or 0) + 1
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > v then v = now end
redis.call('SET', KEYS[1], string.format('%d', v))
v = string.format('%d', v)
redis.call('HSET', KEYS[2], ARGV[1], v .. ' ' .. ARGV[2] .. ' ' .. ARGV[3])
if tonumber(ARGV[5]) > 0 then redis.call('PEXPIRE', KEYS[2], ARGV[5]) end
redis.call('PUBLISH', ARGV[6], ARGV[4] .. ' ' .. v .. ' ' .. ARGV[2])
return tonumber(v)
`)

// BusOptions tune a Bus; zero values take the defaults.
type BusOptions struct {
	Prefix  string // starts every key; default "aya:"
	Channel string // the pub/sub channel; default Prefix+"events"
	// Resync is how often the node compares the cluster's version with what it applied, to
	// catch an event pub/sub lost; default 5s.
	Resync  time.Duration
	Timeout time.Duration // per Redis call; default 1s
	Log     *slog.Logger
}

// Bus spreads admin changes over the cluster. Each change is a record (kind, field, value)
// written to the hash PREFIX{state}:KIND with a cluster-wide version; an event on the channel
// tells the other nodes to re-read that kind and apply the records newer than what they
// applied. A node that (re)subscribes re-reads every kind, so one that missed events, or that
// just started, catches up.
type Bus struct {
	client goredis.UniversalClient
	node   string
	opt    BusOptions
	kinds  []string // in the order they are applied on a full resync
	apply  map[string]Applier

	mu      sync.Mutex
	applied map[string]map[string]int64 // kind → field → version applied
	seen    int64                       // the cluster's version at the last full resync
}

// NewBus returns a bus for node; register the kinds with Handle, then Run it.
func NewBus(client goredis.UniversalClient, node string, opt BusOptions) *Bus {
	if opt.Prefix == "" {
		opt.Prefix = "aya:"
	}
	if opt.Channel == "" {
		opt.Channel = opt.Prefix + "events"
	}
	if opt.Resync <= 0 {
		opt.Resync = 5 * time.Second
	}
	if opt.Timeout <= 0 {
		opt.Timeout = time.Second
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	return &Bus{client: client, node: node, opt: opt, apply: map[string]Applier{}, applied: map[string]map[string]int64{}}
}

// Handle registers the applier of kind (letters, digits, '_'); kinds resync in the order they
// were registered, so register those others depend on first. Call before Run.
func (b *Bus) Handle(kind string, a Applier) {
	b.kinds = append(b.kinds, kind)
	b.apply[kind] = a
	b.applied[kind] = map[string]int64{}
}

func (b *Bus) hash(kind string) string { return b.opt.Prefix + "{state}:" + kind }
func (b *Bus) versionKey() string      { return b.opt.Prefix + "{state}:version" }

// Publish writes the record field of kind (this node already applied it) and tells the other
// nodes. ttl > 0 expires the kind's whole hash ttl after its last record (for kinds that are
// events, like purges, rather than state). It returns the record's version.
func (b *Bus) Publish(ctx context.Context, kind, field string, value []byte, ttl time.Duration) (int64, error) {
	ctx, cancel := context.WithTimeout(ctx, b.opt.Timeout)
	defer cancel()
	v, err := publishScript.Run(ctx, b.client, []string{b.versionKey(), b.hash(kind)},
		field, b.node, value, kind, ttl.Milliseconds(), b.opt.Channel).Int64()
	if err != nil {
		return 0, fmt.Errorf("publishing the %s change %q to the cluster's Redis (this node has it; the others get it only once it is made again): %w", kind, field, err)
	}
	b.mu.Lock()
	b.applied[kind][field] = max(b.applied[kind][field], v)
	b.mu.Unlock()
	return v, nil
}

// Run applies the other nodes' changes until ctx ends. It reconnects by itself after Redis
// fails, and re-reads every kind each time it subscribes.
func (b *Bus) Run(ctx context.Context) {
	ps := b.client.Subscribe(ctx, b.opt.Channel)
	// A read blocked on the subscription does not watch ctx; closing it ends the read.
	stop := context.AfterFunc(ctx, func() { ps.Close() })
	defer stop()
	defer ps.Close()
	next := time.Now().Add(b.opt.Resync)
	failing := false
	for ctx.Err() == nil {
		msg, err := ps.ReceiveTimeout(ctx, b.opt.Resync)
		if err != nil {
			var ne net.Error
			if ctx.Err() != nil || b.closed(ctx, err) {
				return
			}
			if !errors.As(err, &ne) || !ne.Timeout() {
				if !failing {
					b.opt.Log.Warn("cluster events: Redis failed; admin changes of other nodes wait until it answers", "error", err)
				}
				failing = true
				sleep(ctx, 250*time.Millisecond)
				continue
			}
		}
		switch m := msg.(type) {
		case *goredis.Subscription:
			if failing {
				b.opt.Log.Info("cluster events: Redis answers again; re-reading every change")
			}
			failing = false
			b.resyncAll(ctx)
		case *goredis.Message:
			// This node's own changes are applied already.
			if kind, node, ok := parseEvent(m.Payload); ok && node != b.node && b.apply[kind] != nil {
				b.resync(ctx, kind)
			}
		}
		if time.Now().After(next) {
			next = time.Now().Add(b.opt.Resync)
			b.catchUp(ctx)
		}
	}
}

// closed reports whether err comes from the client being closed under the bus (the node shuts
// down), not from Redis failing: a closed connection is that only if the client says so too.
func (b *Bus) closed(ctx context.Context, err error) bool {
	if errors.Is(err, goredis.ErrClosed) {
		return true
	}
	return errors.Is(err, net.ErrClosed) && errors.Is(b.client.Ping(ctx).Err(), goredis.ErrClosed)
}

// resyncAll re-reads every kind. The version counter is read first, so once every kind is read
// this node has seen at least that version (records that expired included).
func (b *Bus) resyncAll(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, b.opt.Timeout)
	v, err := b.client.Get(rctx, b.versionKey()).Int64()
	cancel()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return
	}
	if b.resync(ctx, b.kinds...) {
		b.mu.Lock()
		b.seen = max(b.seen, v)
		b.mu.Unlock()
	}
}

// catchUp re-reads everything when the cluster's version passed what this node saw: an
// event was lost.
func (b *Bus) catchUp(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, b.opt.Timeout)
	v, err := b.client.Get(rctx, b.versionKey()).Int64()
	cancel()
	if err != nil {
		return
	}
	b.mu.Lock()
	behind := v > b.seen
	b.mu.Unlock()
	if behind {
		b.resyncAll(ctx)
	}
}

// resync reads each kind's records and applies those newer than what this node applied; it
// reports whether every kind was read.
func (b *Bus) resync(ctx context.Context, kinds ...string) bool {
	for _, kind := range kinds {
		rctx, cancel := context.WithTimeout(ctx, b.opt.Timeout)
		all, err := b.client.HGetAll(rctx, b.hash(kind)).Result()
		cancel()
		if err != nil {
			b.opt.Log.Warn("cluster events: reading changes failed; retried at the next event or resync", "kind", kind, "error", err)
			return false
		}
		type rec struct {
			field string
			v     int64
			value []byte
		}
		var todo []rec
		b.mu.Lock()
		seen := b.applied[kind]
		for f := range seen {
			if _, ok := all[f]; !ok {
				delete(seen, f) // expired or rewritten: keeps the map as small as the hash
			}
		}
		for f, raw := range all {
			v, value, ok := parseRecord(raw)
			if !ok {
				continue
			}
			if v > seen[f] {
				todo = append(todo, rec{f, v, value})
			}
		}
		b.mu.Unlock()
		// In version order: a kind's records then apply as they were made.
		slices.SortFunc(todo, func(x, y rec) int { return int(x.v - y.v) })
		for _, r := range todo {
			if err := b.apply[kind](ctx, r.field, r.value); err != nil {
				b.opt.Log.Warn("cluster events: a change from another node could not be applied here", "kind", kind, "field", r.field, "error", err)
			}
			b.mu.Lock()
			seen[r.field] = max(seen[r.field], r.v)
			b.mu.Unlock()
		}
	}
	return true
}

// parseRecord splits "VERSION NODE VALUE" (the node is there for whoever reads Redis).
func parseRecord(raw string) (v int64, value []byte, ok bool) {
	vs, rest, ok1 := strings.Cut(raw, " ")
	_, val, ok2 := strings.Cut(rest, " ")
	v, err := strconv.ParseInt(vs, 10, 64)
	if !ok1 || !ok2 || err != nil {
		return 0, nil, false
	}
	return v, []byte(val), true
}

// parseEvent splits "KIND VERSION NODE".
func parseEvent(p string) (kind, node string, ok bool) {
	f := strings.Fields(p)
	if len(f) != 3 {
		return "", "", false
	}
	return f[0], f[2], true
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
