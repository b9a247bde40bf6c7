package route

import (
	"strings"

	"aya/internal/httpx"
)

// smallFanout is how many literal children a node scans linearly before it switches to a map:
// below it, comparing a few short strings beats hashing the segment.
const smallFanout = 8

// node is one segment position in a path trie. A host group has two tries, one for params
// patterns and one for prefixes; both have literal and parameter children.
type node struct {
	lits   []edge           // literal children while there are few
	litMap map[string]*node // literal children once there are many; lits is then nil
	param  *node            // the child for a parameter segment, whatever its name
	// routes ends here: params patterns whose last segment is this node, or prefixes that
	// stop here. Kept in precedence order (weight, then config order).
	routes []*route
	// maxLits is the most literal segments below this node in any pattern through it, and
	// maxDepth the most segments below it. The searches use them to skip subtrees that cannot
	// beat the best match found so far: params patterns rank by literal segments, prefixes
	// by length.
	maxLits  int
	maxDepth int
}

type edge struct {
	seg  string
	next *node
}

func (n *node) child(seg string) *node {
	if n.litMap != nil {
		return n.litMap[seg]
	}
	for i := range n.lits {
		if n.lits[i].seg == seg {
			return n.lits[i].next
		}
	}
	return nil
}

// insert adds the pattern segs ending in rt, creating nodes as needed.
func (n *node) insert(segs []patternSeg, rt *route) {
	for _, s := range segs {
		if s.param {
			if n.param == nil {
				n.param = &node{}
			}
			n = n.param
			continue
		}
		c := n.child(s.lit)
		if c == nil {
			c = &node{}
			n.lits = append(n.lits, edge{seg: s.lit, next: c})
		}
		n = c
	}
	n.routes = append(n.routes, rt)
}

// finish orders each node's routes, computes maxLits and maxDepth and moves wide fan-outs
// into maps. It runs once, after every insert.
func (n *node) finish() {
	sortByWeight(n.routes)
	n.maxLits, n.maxDepth = 0, 0
	for _, e := range n.lits {
		e.next.finish()
		n.maxLits = max(n.maxLits, 1+e.next.maxLits)
		n.maxDepth = max(n.maxDepth, 1+e.next.maxDepth)
	}
	if n.param != nil {
		n.param.finish()
		n.maxLits = max(n.maxLits, n.param.maxLits)
		n.maxDepth = max(n.maxDepth, 1+n.param.maxDepth)
	}
	if len(n.lits) > smallFanout {
		n.litMap = make(map[string]*node, len(n.lits))
		for _, e := range n.lits {
			n.litMap[e.seg] = e.next
		}
		n.lits = nil
	}
}

// nextSegment splits rest (a path after a "/") into its first segment and what follows the
// next "/"; last is set when there is no further "/".
func nextSegment(rest string) (seg, after string, last bool) {
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		return rest[:i], rest[i+1:], false
	}
	return rest, "", true
}

// search carries the best match found so far through a trie walk. score is the number of
// literal segments for params patterns and the number of segments for prefixes.
type search struct {
	r         *httpx.Request
	best      *route
	bestScore int
}

// offer gives the routes ending at n, reached with the given score, to the search. Only a
// strictly better score replaces the best: the walks visit a literal child before the
// parameter child, so at equal score the route found first is the one whose literal comes
// first at the first differing segment.
func (n *node) offer(score int, s *search) {
	if score <= s.bestScore {
		return
	}
	if rt := firstAccepting(n.routes, s.r); rt != nil {
		s.best, s.bestScore = rt, score
	}
}

// searchParams walks the params trie for the rest of a path; lits counts the literal
// segments matched so far. Every node is visited at most once, so the cost is bounded by the
// trie, whatever the path.
func (n *node) searchParams(rest string, lits int, s *search) {
	if lits+n.maxLits <= s.bestScore {
		return
	}
	seg, after, last := nextSegment(rest)
	if c := n.child(seg); c != nil {
		if last {
			c.offer(lits+1, s)
		} else {
			c.searchParams(after, lits+1, s)
		}
	}
	if n.param != nil && seg != "" {
		if last {
			n.param.offer(lits, s)
		} else {
			n.param.searchParams(after, lits, s)
		}
	}
}

// searchPrefix walks the prefix trie for the rest of a path; depth counts the segments matched
// so far. A prefix covers the path when the path equals it or continues with "/", which is
// exactly when the walk reaches its node, so every node reached offers its routes, deepest
// (longest prefix) first.
func (n *node) searchPrefix(rest string, depth int, s *search) {
	if depth+n.maxDepth <= s.bestScore {
		return
	}
	seg, after, last := nextSegment(rest)
	if c := n.child(seg); c != nil {
		if !last {
			c.searchPrefix(after, depth+1, s)
		}
		c.offer(depth+1, s)
	}
	if n.param != nil && seg != "" {
		if !last {
			n.param.searchPrefix(after, depth+1, s)
		}
		n.param.offer(depth+1, s)
	}
}

// captureParams appends the parameters rt captures from path to r.Params.
func captureParams(rt *route, path string, r *httpx.Request) {
	rest := path[1:]
	k := 0
	for n := 0; k < len(rt.params); n++ {
		seg, after, _ := nextSegment(rest)
		if rt.params[k].seg == n {
			r.Params = append(r.Params, httpx.Param{Name: rt.params[k].name, Value: seg})
			k++
		}
		rest = after
	}
}
