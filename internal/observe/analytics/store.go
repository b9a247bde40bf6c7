package analytics

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"aya/internal/observe"
)

// Dimension is what a rollup is keyed by.
type Dimension uint8

// Dimensions. Total is every request together, under the name "".
const (
	Total Dimension = iota
	Route
	Upstream
	Target
	Consumer
	numDims
)

var dimNames = [numDims]string{"total", "route", "upstream", "target", "consumer"}

func (d Dimension) String() string { return dimNames[d] }

// ParseDimension reads a dimension's name, as the admin API takes it.
func ParseDimension(s string) (Dimension, bool) {
	for i, n := range dimNames {
		if n == s {
			return Dimension(i), true
		}
	}
	return 0, false
}

// Options size a Store. Zero values take the defaults.
type Options struct {
	// Recent is how many requests the ring keeps (default 4096, about 1.2 KiB each).
	Recent int
	// TopN is how many names per dimension get their own rollup (default 16); the rest share
	// "other". One rollup holds the last hour and costs about 165 KiB.
	TopN int
}

const nShards = 8 // a power of two

// Store is the analytics sink. Create it with New, start its clock with Run.
type Store struct {
	topN   int
	seq    atomic.Uint64
	shards [nShards]shard

	// mu guards the rollups; only the once-a-second flush and queries take it, never Record.
	mu   sync.Mutex
	dims [numDims]*dimension
	last int64 // unix second of the last flush
	gath [numDims]map[string]*acc
}

// shard is one slice of the ring plus the running second's accumulators. Record picks shards
// in turn, so concurrent requests rarely wait on the same mutex.
type shard struct {
	mu    sync.Mutex
	ring  []entry
	next  int
	total acc
	names [numDims]map[string]*shardAcc
	over  [numDims]acc // names past the shard's limit
	limit int
	// last is each dimension's most recent name and accumulator: consecutive requests mostly
	// share a route and upstream, and a string compare is cheaper than a map lookup.
	lastName [numDims]string
	lastAcc  [numDims]*shardAcc
	_        [64]byte // keep neighbouring shards' mutexes off one cache line
}

// shardAcc is a name's accumulator in a shard; idle counts flushes without requests, so names
// that stopped coming are forgotten.
type shardAcc struct {
	acc
	idle int
	name string
}

// New returns an empty store.
func New(o Options) *Store {
	if o.Recent <= 0 {
		o.Recent = 4096
	}
	if o.TopN <= 0 {
		o.TopN = 16
	}
	s := &Store{topN: o.TopN}
	per := max((o.Recent+nShards-1)/nShards, 1)
	for i := range s.shards {
		sh := &s.shards[i]
		sh.ring = make([]entry, per)
		sh.limit = max(4*o.TopN, 64)
		for d := Route; d < numDims; d++ {
			sh.names[d] = make(map[string]*shardAcc)
		}
	}
	for d := range s.dims {
		s.dims[d] = newDimension()
		s.gath[d] = make(map[string]*acc)
	}
	s.dims[Total].named[""] = &series{} // answers (with no traffic) before the first second closes
	return s
}

// Record keeps one finished request. It copies everything it keeps and does not allocate
// once the request's route, upstream, target and consumer have been seen by the shard.
func (s *Store) Record(r *observe.Record) {
	seq := s.seq.Add(1)
	sh := &s.shards[seq&(nShards-1)]
	b := bucket(r.Duration)
	sh.mu.Lock()
	sh.ring[sh.next].fill(seq, r)
	if sh.next++; sh.next == len(sh.ring) {
		sh.next = 0
	}
	sh.total.add(r, b)
	sh.acc(Route, r.Route).add(r, b)
	sh.acc(Upstream, r.Upstream).add(r, b)
	sh.acc(Target, r.Target).add(r, b)
	sh.acc(Consumer, r.Consumer).add(r, b)
	sh.mu.Unlock()
}

// acc returns the running accumulator of a name; "" (no route matched, anonymous) is kept
// under "" like any name, so every dimension adds up to the total.
func (sh *shard) acc(d Dimension, name string) *acc {
	if a := sh.lastAcc[d]; a != nil && sh.lastName[d] == name {
		return &a.acc
	}
	a, ok := sh.names[d][name]
	if !ok {
		if len(sh.names[d]) >= sh.limit {
			return &sh.over[d]
		}
		// A copy: name may point into a connection buffer.
		a = &shardAcc{name: string([]byte(name))}
		sh.names[d][a.name] = a
	}
	sh.lastName[d], sh.lastAcc[d] = a.name, a
	return &a.acc
}

// Run closes each second just after it ends, until ctx is done.
func (s *Store) Run(ctx context.Context) {
	for {
		now := time.Now()
		next := now.Truncate(time.Second).Add(time.Second + 5*time.Millisecond)
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case now = <-t.C:
		}
		s.Flush(now.Add(-time.Second))
	}
}

// Flush closes a second: what was recorded since the last Flush is added to the rollups as the
// second that contains at. Run calls it; tests call it with their own clock.
func (s *Store) Flush(at time.Time) {
	sec := at.Unix()
	var total acc
	var over [numDims]acc
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		total.merge(&sh.total)
		sh.total = acc{}
		for d := Route; d < numDims; d++ {
			over[d].merge(&sh.over[d])
			sh.over[d] = acc{}
			// A shard that is filling up forgets idle names at once, so a busy newcomer is
			// not stuck in the shard's overflow behind names seen once.
			idleMax := idleFlushes
			if len(sh.names[d]) > sh.limit/2 {
				idleMax = 0
			}
			for name, a := range sh.names[d] {
				if a.count == 0 {
					if a.idle++; a.idle > idleMax {
						delete(sh.names[d], name)
						if sh.lastAcc[d] == a {
							sh.lastName[d], sh.lastAcc[d] = "", nil
						}
					}
					continue
				}
				a.idle = 0
				g := s.gath[d][name]
				if g == nil {
					g = new(acc)
					s.gath[d][name] = g
				}
				g.merge(&a.acc)
				a.acc = acc{}
			}
		}
		sh.mu.Unlock()
	}
	s.dims[Total].add(sec, "", &total, 1)
	s.dims[Total].tick(sec, 1)
	for d := Route; d < numDims; d++ {
		for name, a := range s.gath[d] {
			s.dims[d].add(sec, name, a, s.topN)
		}
		clear(s.gath[d])
		if over[d].count > 0 {
			s.dims[d].otherSeries().add(sec, &over[d])
		}
		s.dims[d].tick(sec, s.topN)
	}
	s.last = sec
}

// idleFlushes is how long a shard remembers a name that stopped coming, in seconds.
const idleFlushes = 120
