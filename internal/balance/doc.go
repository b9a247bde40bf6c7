// Package balance chooses which target of an upstream pool serves a request: the Balancer
// interface, the Target counters balancers read, and every load-balancing algorithm aya
// offers.
//
// It must not know about config, serving, upstream pools or health checks. The pool decides
// which targets are available (healthy, not ejected, not in a circuit-broken state) and passes
// that set to Pick; the transport reports each request's start and end on its Target. A
// balancer only reads those counters and the request.
//
// # Choosing an algorithm
//
// New(algorithm, Options) builds a balancer; give every pool its own. An empty name builds
// DefaultAlgorithm, weighted_round_robin, which with equal weights is plain round robin.
//
//	algorithm             weights  reads                        sticky  pick cost
//	round_robin           no       -                            no      O(1)
//	weighted_round_robin  yes      -                            no      O(1)
//	least_conn            no       in-flight                    no      O(targets)
//	weighted_least_conn   yes      in-flight                    no      O(targets)
//	random                no       -                            no      O(1)
//	p2c                   no       in-flight                    no      O(1)
//	least_time            no       in-flight, latency           no      O(1)
//	ip_hash               yes      hash key                     yes     O(log targets)
//	consistent_hash       yes      hash key                     yes     O(log points)
//	maglev                yes      hash key                     yes     O(1)
//
// For stateless services with similar targets, round_robin or weighted_round_robin. When
// requests vary a lot in cost or targets differ in speed, p2c (load-aware, cheap) or
// least_time (latency-aware). When a client must keep reaching the same target (a local
// cache, a session held in memory), maglev, or consistent_hash where weights change often.
//
// # round_robin
//
// Targets take turns in the order the pool lists them, one request each. Weights are
// ignored. A shared atomic counter makes the rotation exact across concurrent requests.
//
// # weighted_round_robin
//
// nginx's smooth weighted round robin. Each target gets turns in proportion to its weight,
// spread out rather than bunched: weights 5, 1, 1 give a a b a c a a, not a a a a a b c.
// One period of the sequence (sum of weights divided by their gcd) is computed when the
// target set changes and then indexed with an atomic counter, so picks never lock. Periods
// are bounded (65536 turns, and about 16M build steps for very large pools); beyond that
// weights are scaled down and proportions become approximate, with every target keeping at
// least one turn per period.
//
// # least_conn
//
// The target with the fewest requests in flight (started, not yet ended). Ties are broken by
// rotation, so an idle pool behaves like round robin instead of sending everything to the
// first target. Each pick scans every target; for pools of hundreds of targets prefer p2c.
// Several aya instances sharing a pool each see only their own requests.
//
// # weighted_least_conn
//
// The target with the fewest requests in flight per unit of weight. Ties are broken in
// smooth weighted round robin order, so weights hold in both regimes: when requests overlap,
// in-flight per weight evens out; when the pool is idle (every request ends before the next
// begins), the tie-break alone gives weighted turns.
//
// # random
//
// A uniformly random target, ignoring weights. Useful as a baseline and where several
// independent balancers must not synchronise on the same target.
//
// # p2c
//
// Power of two choices: draw two distinct targets at random, keep the one with fewer
// requests in flight. It adapts to load like least_conn without scanning the pool and
// without the herd effect of every balancer picking the same least-loaded target. Weights
// are ignored.
//
// # least_time
//
// P2C over expected time, in the style of Finagle's and Linkerd's peak EWMA: each of the two
// drawn targets scores latency × (in-flight + 1), and the lower score wins. The latency
// estimate is kept on the Target from the latencies the transport reports with End:
//
//   - A slower answer than the estimate is believed at once (the "peak"), so a target that
//     turns slow loses traffic immediately.
//   - A faster answer is averaged in with a weight that grows with the time since the
//     previous answer: the estimate remembers about 10 seconds, whatever the request rate.
//   - While a target is idle its estimate fades (by a factor e every 10 seconds), so a
//     target that was slow once is probed again and, if it has recovered, gets its traffic
//     back. While it has requests outstanding the estimate does not fade: a hanging target
//     must not look better the longer it hangs.
//   - A target that has never answered scores 0 while idle, so new targets are tried at once;
//     with a probe outstanding it counts as 1 second until that probe answers.
//   - A failed request (connect error, reset, timeout) counts as at least 1 second, so a
//     target that fails fast does not look fast.
//
// Weights are ignored. Outlier detection in the pool, not least_time, removes targets that
// keep failing.
//
// # ip_hash
//
// The request's hash key (Options.HashKey, the client IP by default) is hashed onto a line
// on which each target owns a stretch as long as its weight. A client keeps its target as
// long as the set of available targets is unchanged; a change of the set moves a large
// share of clients (a third to a half when one of ten targets leaves). It is the cheapest
// sticky algorithm; prefer maglev when the set changes.
//
// # consistent_hash
//
// A hash ring (Karger et al., ketama). Each target owns weight × Options.VirtualNodes points
// (default 1024), placed by hashing its Name; a key goes to the first point at or after its
// hash. When a target leaves, only its keys move, each to the next point's target; when one
// joins, it takes keys only for itself; raising a weight only adds points. A target's share
// deviates from its weight's share by about 1/√points (3% at weight 1). Rings are bounded to
// about a million points: pools with larger weight sums get fewer points per weight unit.
//
// # maglev
//
// Google's Maglev hashing (NSDI 2016): a 65537-slot lookup table filled by letting each
// target claim slots along its own permutation, a weight-w target claiming w slots for each
// slot of a weight-1 one. A pick is one table read; each target's slots match its weight's
// share to within a few of the 65537; when a target leaves, its keys move and a fraction of
// a percent of other keys move too. Building a table takes a few milliseconds, once per
// change of the target set.
//
// # Hash keys
//
// ip_hash, consistent_hash and maglev hash the part of the request Options.HashKey names:
//
//	ip            r.ClientIP (the gateway's view of the client, after trusted proxies),
//	              or the TCP peer when unset; default
//	path          the raw path
//	header:NAME   the first NAME header
//	cookie:NAME   the NAME cookie
//	query:NAME    the raw value of the NAME query parameter
//
// A request whose key is missing or empty is hashed by its client IP instead; with no IP
// either, successive such requests rotate over the targets in proportion to their weights.
// The hash is fixed and unseeded, so every aya instance, every reload and every upgrade
// maps a key to the same target given the same target names and weights. IPv4 clients hash
// the same whether they arrive over IPv4 or as IPv4-mapped IPv6.
//
// # Interactions
//
// Health: Pick sees only the targets the pool passes, so health checks and outlier
// detection act by shrinking the set. For the hash algorithms a shrink moves the removed
// target's keys (consistent_hash, maglev) or most keys (ip_hash).
//
// Target sets and tables: the pool must pass the same slice until the available set changes,
// and a new slice when it does, never editing one it has passed. Weighted and hash
// balancers derive a table from each new slice (microseconds for weighted_round_robin and
// ip_hash, milliseconds for consistent_hash and maglev) and keep the tables of the current
// and the previous slice, so a target flapping in and out of the set costs no rebuilds. A
// pool must not hand each request a freshly built slice, for instance "all but the target
// that just failed" for a retry: that would build a table per request.
//
// Weights: a Target's Weight is read when a table is built; to change a weight, replace the
// Target in a new slice. Weights below 1 count as 1.
//
// Concurrency: Pick is safe for concurrent use, takes no lock once a set's table exists, and
// allocates nothing.
package balance
