package cache

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"
)

// Store is the memory every route's cache shares: entries weighed by their bytes, evicted by
// otter's W-TinyLFU when the total passes the maximum, and each dropped when it can no longer
// be served (fresh, stale windows, revalidation grace). It outlives config reloads.
type Store struct {
	c *otter.Cache[string, *entry]

	hits, misses, stale, bypass atomic.Uint64
}

// NewStore makes a store that holds up to maxBytes of responses.
func NewStore(maxBytes int64) (*Store, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("cache size %d: must be above 0 bytes", maxBytes)
	}
	c, err := otter.New(&otter.Options[string, *entry]{
		MaximumWeight:    uint64(maxBytes),
		Weigher:          func(_ string, e *entry) uint32 { return e.weight },
		ExpiryCalculator: otter.ExpiryWritingFunc(func(en otter.Entry[string, *entry]) time.Duration { return en.Value.keepFor() }),
	})
	if err != nil {
		return nil, fmt.Errorf("cache store: %w", err)
	}
	return &Store{c: c}, nil
}

// Resize changes the maximum; entries beyond it are evicted.
func (s *Store) Resize(maxBytes int64) {
	if maxBytes > 0 && uint64(maxBytes) != s.c.GetMaximum() {
		s.c.SetMaximum(uint64(maxBytes))
	}
}

// Close drops every entry and stops the store's maintenance goroutines.
func (s *Store) Close() {
	s.c.InvalidateAll()
	s.c.StopAllGoroutines()
}

func (s *Store) get(key string) (*entry, bool) { return s.c.GetIfPresent(key) }

func (s *Store) set(key string, e *entry) { s.c.Set(key, e) }

func (s *Store) invalidate(key string) { s.c.Invalidate(key) }

// Stats is what GET /cache reports.
type Stats struct {
	Entries  int    `json:"entries"`
	Bytes    uint64 `json:"bytes"`
	MaxBytes uint64 `json:"max_bytes"`
	Hits     uint64 `json:"hits"`
	Misses   uint64 `json:"misses"`
	Stale    uint64 `json:"stale"`
	Bypass   uint64 `json:"bypass"`
}

// Stats returns the store's size and the counters of every cache over it.
func (s *Store) Stats() Stats {
	return Stats{
		Entries:  s.c.EstimatedSize(),
		Bytes:    s.c.WeightedSize(),
		MaxBytes: s.c.GetMaximum(),
		Hits:     s.hits.Load(),
		Misses:   s.misses.Load(),
		Stale:    s.stale.Load(),
		Bypass:   s.bypass.Load(),
	}
}

// Selector names what a purge removes; exactly one field is set.
type Selector struct {
	// Key is "METHOD host/path?query" (the method may be left out to mean GET and HEAD).
	Key string `json:"key,omitempty"`
	// Prefix is a path prefix ("/api/") or a host and path prefix ("example.com/api/").
	Prefix string `json:"prefix,omitempty"`
	// Tag is one of the values the upstream listed in the tags header (Surrogate-Key).
	Tag string `json:"tag,omitempty"`
	All bool   `json:"all,omitempty"`
}

// Validate says what is wrong with a selector, in words for the admin API's caller.
func (sel Selector) Validate() error {
	n := 0
	for _, set := range []bool{sel.Key != "", sel.Prefix != "", sel.Tag != "", sel.All} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf(`name exactly one of "key", "prefix", "tag" or "all": true, like {"prefix": "/api/"}`)
	}
	return nil
}

func (sel Selector) matches(e *entry) bool {
	switch {
	case sel.All:
		return true
	case sel.Key != "":
		if e.base == sel.Key {
			return true
		}
		_, rest, ok := strings.Cut(e.base, " ")
		return ok && !strings.Contains(sel.Key, " ") && rest == sel.Key
	case sel.Prefix != "":
		if strings.HasPrefix(sel.Prefix, "/") {
			return strings.HasPrefix(e.path, sel.Prefix)
		}
		return strings.HasPrefix(e.host+e.path, sel.Prefix)
	case sel.Tag != "":
		return slices.Contains(e.tags, sel.Tag)
	}
	return false
}

// Purge removes the entries sel names and returns how many responses went (Vary markers are
// not counted). It walks the whole store: purges are rare, lookups are not, so no secondary
// index slows every store down.
func (s *Store) Purge(sel Selector) int {
	if sel.All {
		n := 0
		for _, e := range s.c.All() {
			if e.vary == nil {
				n++
			}
		}
		s.c.InvalidateAll()
		return n
	}
	var keys []string
	for k, e := range s.c.All() {
		if sel.matches(e) {
			keys = append(keys, k)
		}
	}
	n := 0
	for _, k := range keys {
		if e, ok := s.c.Invalidate(k); ok && e.vary == nil {
			n++
		}
	}
	return n
}
