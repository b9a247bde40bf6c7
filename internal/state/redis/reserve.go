package redis

import (
	"context"
	_ "embed"
	"fmt"
	"time"

	"aya/internal/state"
)

//go:embed reserve.lua
var reserveLua string

// Reserve takes up to n tokens of a GCRA limit from key's bucket in one round trip, for a node
// that hands them out itself (sync: batched). It shares the cell Allow decides on, so exact and
// batched nodes count against one bucket. granted is how many it got (0 when the bucket is
// empty, then retry is how long until one is free). Only GCRA has tokens to take.
func (s *Store) Reserve(ctx context.Context, key string, l state.Limit, n int64, now time.Time) (granted int64, retry time.Duration, err error) {
	if l.Algorithm != state.GCRA {
		return 0, 0, fmt.Errorf("redis reserve: %s has no tokens to reserve: only gcra limits can be batched", l.Algorithm)
	}
	const us = int64(time.Microsecond)
	res, err := s.reserve.Run(ctx, s.c, []string{s.prefix + key},
		l.Count, int64(l.Period)/us, l.Burst, now.UnixNano()/us, max(n, 1)).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("redis reserve: %w", err)
	}
	if len(res) != 2 {
		return 0, 0, fmt.Errorf("redis reserve: the script answered %d values, want 2", len(res))
	}
	return res[0], time.Duration(res[1]) * time.Microsecond, nil
}
