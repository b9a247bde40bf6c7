// Package cluster is what aya nodes that share one Redis agree on there. Membership: each node
// keeps a key with a short TTL alive by heartbeat, so the live nodes are exactly those whose key
// exists, a node that dies drops out within the TTL, and one that stops cleanly leaves at once.
// Leases (lease.go): each node holds a part of a shared capacity sized by its demand, renewed
// every tick by one Lua script that never lets the parts add up to more than the whole.
// Budgets (budget.go): reservations and settlements against a cap shared by every node. The
// bus (bus.go): versioned records of admin changes, announced on a channel, so every node
// applies every change.
//
// It knows Redis and what a node says about itself; not config, HTTP or the gateway (which
// decides what to do with the list and the leases).
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Node is what a node registers about itself.
type Node struct {
	Name    string    `json:"name"`
	Version string    `json:"version"`
	Admin   string    `json:"admin"` // the admin API's address
	Started time.Time `json:"started"`
}

// Options tune the heartbeat; zero values take the defaults.
type Options struct {
	// Prefix starts every key the membership writes; default "aya:".
	Prefix string
	// Interval between heartbeats; default 1s.
	Interval time.Duration
	// TTL is how long a node's key outlives its last heartbeat: a node that dies drops out of
	// the list after at most TTL. Default 3 intervals, so one slow beat does not drop it.
	TTL time.Duration
	Log *slog.Logger
}

// Membership is one node's registration. Leave ends it.
type Membership struct {
	c      goredis.UniversalClient
	self   []byte // the node's JSON
	name   string
	prefix string
	key    string
	index  string
	every  time.Duration
	ttl    time.Duration
	log    *slog.Logger

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	failing  bool // the last heartbeat failed (heartbeat goroutine only)
}

// keys returns the index of names and the key prefix of nodes. Both carry the hash tag
// {nodes}, so on Redis Cluster they live in one slot and one MGET reads every node.
func keys(prefix string) (index, node string) {
	return prefix + "{nodes}", prefix + "{nodes}:"
}

// Join registers self and keeps it registered until Leave. A Redis that does not answer now is
// no error: the heartbeat keeps trying, and the node appears once Redis answers.
func Join(ctx context.Context, c goredis.UniversalClient, self Node, o Options) (*Membership, error) {
	if self.Name == "" {
		return nil, errors.New("cluster: a node needs a name")
	}
	if o.Prefix == "" {
		o.Prefix = "aya:"
	}
	if o.Interval <= 0 {
		o.Interval = time.Second
	}
	if o.TTL <= o.Interval {
		o.TTL = 3 * o.Interval
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	b, err := json.Marshal(self)
	if err != nil {
		return nil, fmt.Errorf("cluster: encoding node %q: %w", self.Name, err)
	}
	index, node := keys(o.Prefix)
	m := &Membership{c: c, self: b, name: self.Name, prefix: o.Prefix, key: node + self.Name, index: index, every: o.Interval,
		ttl: o.TTL, log: o.Log, stop: make(chan struct{}), done: make(chan struct{})}
	m.warnIfTaken(ctx, self)
	m.beat(ctx)
	go m.run()
	return m, nil
}

// warnIfTaken logs when a live node already holds the name: the two would overwrite each
// other's registration and show up as one.
func (m *Membership) warnIfTaken(ctx context.Context, self Node) {
	ctx, cancel := context.WithTimeout(ctx, m.every)
	defer cancel()
	b, err := m.c.Get(ctx, m.key).Bytes()
	if err != nil {
		return
	}
	var other Node
	if json.Unmarshal(b, &other) == nil && !other.Started.Equal(self.Started) {
		m.log.Warn("another live node has this node's name; give each node its own cluster.node",
			"node", self.Name, "other_admin", other.Admin, "other_started", other.Started)
	}
}

func (m *Membership) run() {
	defer close(m.done)
	t := time.NewTicker(m.every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.beat(context.Background())
		}
	}
}

// beat refreshes the node's key and its place in the index, in one round trip.
func (m *Membership) beat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, m.every)
	defer cancel()
	_, err := m.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Set(ctx, m.key, m.self, m.ttl)
		p.SAdd(ctx, m.index, m.name)
		return nil
	})
	switch {
	case err != nil && !m.failing:
		m.log.Warn("cluster heartbeat failed; other nodes stop listing this one until Redis answers", "node", m.name, "error", err)
	case err == nil && m.failing:
		m.log.Info("cluster heartbeat works again", "node", m.name)
	}
	m.failing = err != nil
}

// Leave stops the heartbeat and removes the node at once (instead of after its TTL).
func (m *Membership) Leave(ctx context.Context) error {
	m.stopOnce.Do(func() { close(m.stop) })
	<-m.done
	_, err := m.c.TxPipelined(ctx, func(p goredis.Pipeliner) error {
		p.Del(ctx, m.key)
		p.SRem(ctx, m.index, m.name)
		return nil
	})
	if err != nil {
		return fmt.Errorf("cluster: node %q could not deregister (it drops out after %v): %w", m.name, m.ttl, err)
	}
	return nil
}

// Live lists the nodes whose heartbeat is current, by name.
func (m *Membership) Live(ctx context.Context) ([]Node, error) {
	return Live(ctx, m.c, m.prefix)
}

// Live lists the live nodes registered under prefix, by name. Names whose key expired (nodes
// that died) are dropped from the index as it goes.
func Live(ctx context.Context, c goredis.UniversalClient, prefix string) ([]Node, error) {
	index, node := keys(prefix)
	names, err := c.SMembers(ctx, index).Result()
	if err != nil {
		return nil, fmt.Errorf("cluster: listing nodes: %w", err)
	}
	if len(names) == 0 {
		return []Node{}, nil
	}
	ks := make([]string, len(names))
	for i, n := range names {
		ks[i] = node + n
	}
	vals, err := c.MGet(ctx, ks...).Result()
	if err != nil {
		return nil, fmt.Errorf("cluster: reading nodes: %w", err)
	}
	nodes := make([]Node, 0, len(vals))
	var dead []any
	for i, v := range vals {
		s, ok := v.(string)
		var n Node
		if !ok || json.Unmarshal([]byte(s), &n) != nil {
			dead = append(dead, names[i])
			continue
		}
		nodes = append(nodes, n)
	}
	if len(dead) > 0 {
		// A heartbeat racing this re-adds its name; losing one index entry for a beat is harmless.
		c.SRem(ctx, index, dead...)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	return nodes, nil
}
