package balance

import (
	"math/rand/v2"

	"aya/internal/httpx"
)

// p2c is the power of two choices: sample two distinct targets at random, keep the one with
// fewer requests in flight. It needs no scan and no shared counter, avoids the herd effect of
// least_conn (every balancer instance rushing to the same idle target), and is never worse
// than random.
type p2c struct{}

func (p2c) Pick(_ *httpx.Request, targets []*Target) *Target {
	a, b := pickTwo(targets)
	if b == nil || a.InFlight() <= b.InFlight() {
		return a
	}
	return b
}

// pickTwo draws two distinct targets uniformly; b is nil when there is only one, both are
// nil when there is none.
func pickTwo(targets []*Target) (a, b *Target) {
	n := len(targets)
	switch n {
	case 0:
		return nil, nil
	case 1:
		return targets[0], nil
	}
	i := rand.IntN(n)
	j := rand.IntN(n - 1)
	if j >= i {
		j++
	}
	return targets[i], targets[j]
}
