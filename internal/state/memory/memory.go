// Package memory is the in-process state.Limiter: limit cells in a sharded map, each shard
// behind its own mutex (no global lock), with a per-shard least-recently-used list that bounds
// memory (at MaxKeys the oldest key goes) and a sweeper that drops keys whose cells have
// expired (back to the state of a key never seen, so dropping them changes no answer).
//
// It knows only keys and state.Limits: nothing of HTTP, policies or config.
package memory

import (
	"context"
	"hash/maphash"
	"sync"
	"time"

	"aya/internal/state"
)

// Options size a Store. Zero values take the defaults.
type Options struct {
	// MaxKeys bounds the keys kept; past it the least recently used key is dropped (its
	// counter restarts if it comes back). Default 262144 (about 40 MB at worst).
	MaxKeys int
	// Shards is the number of independently locked parts, rounded up to a power of two.
	// Default 64.
	Shards int
	// Sweep is how often expired keys are dropped. Default 10s.
	Sweep time.Duration
}

const (
	defaultMaxKeys = 1 << 18
	defaultShards  = 64
	defaultSweep   = 10 * time.Second
)

// Store is a state.Limiter in memory. It is safe for concurrent use; Close stops its sweeper.
type Store struct {
	seed   maphash.Seed
	mask   uint64
	shards []shard
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

var _ state.Limiter = (*Store)(nil)

// New starts a store and its sweeper.
func New(o Options) *Store {
	if o.MaxKeys <= 0 {
		o.MaxKeys = defaultMaxKeys
	}
	if o.Shards <= 0 {
		o.Shards = defaultShards
	}
	if o.Sweep <= 0 {
		o.Sweep = defaultSweep
	}
	n := 1
	for n < o.Shards {
		n <<= 1
	}
	s := &Store{
		seed:   maphash.MakeSeed(),
		mask:   uint64(n - 1),
		shards: make([]shard, n),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
	}
	per := max((o.MaxKeys+n-1)/n, 1)
	for i := range s.shards {
		s.shards[i].init(per)
	}
	go s.sweeper(o.Sweep)
	return s
}

// Allow decides one request under key. It never fails; the error is there for stores that can.
func (s *Store) Allow(_ context.Context, key string, l state.Limit, now time.Time) (state.Decision, error) {
	sh := &s.shards[maphash.String(s.seed, key)&s.mask]
	return sh.allow(key, &l, now.UnixNano()), nil
}

// Len is the number of keys kept.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// Close stops the sweeper. The store still answers afterwards; expired keys then go only when
// the key limit pushes them out.
func (s *Store) Close() {
	s.once.Do(func() {
		close(s.stop)
		<-s.done
	})
}

func (s *Store) sweeper(every time.Duration) {
	defer close(s.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.sweep(now.UnixNano())
		}
	}
}

// sweep drops the keys expired at now, one shard at a time so requests on other shards never
// wait for it. It returns how many went.
func (s *Store) sweep(now int64) int {
	n := 0
	for i := range s.shards {
		n += s.shards[i].sweep(now)
	}
	return n
}
