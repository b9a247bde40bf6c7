// Package redis is the state.Limiter a cluster of aya nodes shares: every decision is one Lua
// script run in Redis (one round trip, atomic because Redis runs scripts one at a time), so a
// limit of 100/s holds across all nodes together, not per node.
//
// It knows only keys and state.Limits, like the memory store; which Redis (single, Sentinel,
// Cluster) is the caller's redis.UniversalClient.
//
// Time: the script counts on the time the caller passes (the node's clock), in microseconds
// (Lua numbers are doubles: Unix nanoseconds would lose digits). Nodes must keep their clocks
// in sync (NTP); a node whose clock runs ahead by d gets up to d·rate extra requests from a
// GCRA bucket, and window edges move by d.
//
// # sync: exact | batched
//
// exact (Allow) spends one Redis round trip per decision: the burst is global, and the
// throughput of one key is bounded by Redis (a single-threaded script runner) and each request
// waits the round trip. batched (Reserve, used by internal/state/batched) takes several GCRA
// tokens from the same cell in one call, which a node then hands out without a round trip.
package redis

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"aya/internal/state"
)

//go:embed limit.lua
var limitLua string

// Store is a state.Limiter over Redis.
type Store struct {
	c      goredis.Scripter
	prefix string
	script *goredis.Script
	// reserve takes tokens in batches (Reserve).
	reserve *goredis.Script
}

var _ state.Limiter = (*Store)(nil)

// New returns a store that keeps its cells in c under prefix (like "aya:rl:"), so several
// gateways (or other data) can share one Redis.
func New(c goredis.Scripter, prefix string) *Store {
	return &Store{c: c, prefix: prefix, script: goredis.NewScript(limitLua), reserve: goredis.NewScript(reserveLua)}
}

// Allow runs one decision in Redis. An error (Redis unreachable, a timeout from ctx) leaves the
// choice to fail open or closed to the caller.
func (s *Store) Allow(ctx context.Context, key string, l state.Limit, now time.Time) (state.Decision, error) {
	ns := now.UnixNano()
	start, end := int64(0), int64(0)
	if l.Algorithm != state.GCRA {
		start, end = l.Window(ns)
	}
	const us = int64(time.Microsecond)
	res, err := s.script.Run(ctx, s.c, []string{s.prefix + key},
		int(l.Algorithm), l.Count, int64(l.Period)/us, l.Burst, ns/us, start/us, end/us).Int64Slice()
	if err != nil {
		return state.Decision{}, fmt.Errorf("redis rate limit: %w", err)
	}
	if len(res) != 5 {
		return state.Decision{}, fmt.Errorf("redis rate limit: the script answered %d values, want 5", len(res))
	}
	return state.Decision{
		Allowed:    res[0] == 1,
		Limit:      res[1],
		Remaining:  res[2],
		Reset:      time.Duration(res[3]) * time.Microsecond,
		RetryAfter: time.Duration(res[4]) * time.Microsecond,
	}, nil
}
