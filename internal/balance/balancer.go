package balance

import (
	"fmt"
	"strings"

	"aya/internal/httpx"
)

// Balancer picks the target for one request.
type Balancer interface {
	// Pick returns one of targets, or nil when targets is empty. targets is the currently
	// available set (the pool filters health); the pool passes the same backing slice again
	// until the available set changes and must not edit a slice it has passed. A balancer
	// may cache tables derived from the set, keyed on the slice identity, and stays correct
	// when a different slice comes. Pick is safe for concurrent use.
	Pick(r *httpx.Request, targets []*Target) *Target
}

// Options tunes the algorithms that use them; the others ignore them.
type Options struct {
	// HashKey is what ip_hash, consistent_hash and maglev hash: "ip" (the client IP, the
	// default), "path", "header:NAME", "cookie:NAME" or "query:NAME". A request without the
	// key falls back to its client IP.
	HashKey string
	// VirtualNodes is the number of consistent_hash ring points per unit of weight;
	// 0 means DefaultVirtualNodes.
	VirtualNodes int
}

// DefaultAlgorithm is what New("") builds: with equal weights it is round_robin, and
// weights given are honoured.
const DefaultAlgorithm = "weighted_round_robin"

// Names lists the algorithms New accepts, in the order the documentation presents them.
func Names() []string {
	return []string{
		"round_robin", "weighted_round_robin", "least_conn", "weighted_least_conn",
		"random", "p2c", "least_time", "ip_hash", "consistent_hash", "maglev",
	}
}

// New builds a fresh balancer; give each upstream pool its own, since balancers keep per-pool
// state (counters, cached tables).
func New(algorithm string, opts Options) (Balancer, error) {
	key, err := parseHashKey(opts.HashKey)
	if err != nil {
		return nil, err
	}
	vnodes := opts.VirtualNodes
	switch {
	case vnodes == 0:
		vnodes = DefaultVirtualNodes
	case vnodes < 0 || vnodes > maxVirtualNodes:
		return nil, fmt.Errorf("balance: virtual nodes %d out of range: use 1 to %d, or 0 for the default %d",
			vnodes, maxVirtualNodes, DefaultVirtualNodes)
	}
	if algorithm == "" {
		algorithm = DefaultAlgorithm
	}
	switch algorithm {
	case "round_robin":
		return &roundRobin{}, nil
	case "weighted_round_robin":
		return newWeightedRoundRobin(), nil
	case "least_conn":
		return &leastConn{}, nil
	case "weighted_least_conn":
		return newWeightedLeastConn(), nil
	case "random":
		return random{}, nil
	case "p2c":
		return p2c{}, nil
	case "least_time":
		return &leastTime{now: nanotime}, nil
	case "ip_hash":
		return newIPHash(key), nil
	case "consistent_hash":
		return newConsistentHash(key, vnodes), nil
	case "maglev":
		return newMaglev(key), nil
	}
	return nil, fmt.Errorf("balance: unknown algorithm %q: use one of %s", algorithm, strings.Join(Names(), ", "))
}
