package balance

import (
	"math/rand/v2"

	"aya/internal/httpx"
)

// random picks a target uniformly, ignoring weights. math/rand/v2's top-level source is
// per-thread in the runtime, so concurrent picks neither lock nor share a cache line.
type random struct{}

func (random) Pick(_ *httpx.Request, targets []*Target) *Target {
	if len(targets) == 0 {
		return nil
	}
	return targets[rand.IntN(len(targets))]
}
