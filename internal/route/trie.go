package route

import (
	"strings"

	"aya/internal/httpx"
)

// smallFanout is how many literal children a node scans linearly before it switches to a map:
// below it, comparing a few short strings beats hashing the segment.
const smallFanout = 8

// node is one segment position in a path trie. A host group has two tries: one for params
// patterns (literal and parameter children) and one for prefixes (literal children only).
type node struct {
	lits   []edge           // literal children while there are few
	litMap map[string]*node // literal children once there are many; lits is then nil
	param  *node            // the child for a parameter segment, whatever its name
	// routes ends here: params patterns whose last segment is this node, or prefixes that
	// stop here. Kept in precedence order (weight, then config order).
	routes []*route
	// maxLits is the most literal segments below this node in any pattern through it; the
	// params search uses it to skip subtrees that cannot beat the best match found so far.
	maxLits int
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

// finish orders each node's routes, computes maxLits and moves wide fan-outs into maps. It
// runs once, after every insert.
func (n *node) finish() {
	sortByWeight(n.routes)
	n.maxLits = 0
	for _, e := range n.lits {
		e.next.finish()
		n.maxLits = max(n.maxLits, 1+e.next.maxLits)
	}
	if n.param != nil {
		n.param.finish()
		n.maxLits = max(n.maxLits, n.param.maxLits)
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

// paramSearch carries the best params match found so far through the trie walk.
type paramSearch struct {
	r        *httpx.Request
	best     *route
	bestLits int
}

// searchParams walks the params trie for the rest of a path. The walk tries the literal child
// before the parameter child, so among patterns with the same number of literal segments it
// reaches the one whose literal comes first at the first differing segment first; a later
// pattern must have strictly more literal segments to replace it. Every node is visited at
// most once, so the cost is bounded by the trie, whatever the path.
func (n *node) searchParams(rest string, lits int, s *paramSearch) {
	if lits+n.maxLits <= s.bestLits {
		return
	}
	seg, after, last := nextSegment(rest)
	if c := n.child(seg); c != nil {
		if last {
			c.consider(lits+1, s)
		} else {
			c.searchParams(after, lits+1, s)
		}
	}
	if n.param != nil && seg != "" {
		if last {
			n.param.consider(lits, s)
		} else {
			n.param.searchParams(after, lits, s)
		}
	}
}

// consider offers the routes ending at n, reached with lits literal segments, to the search.
func (n *node) consider(lits int, s *paramSearch) {
	if lits <= s.bestLits {
		return
	}
	if rt := firstAccepting(n.routes, s.r); rt != nil {
		s.best, s.bestLits = rt, lits
	}
}

// searchPrefix returns the longest prefix under n that covers rest and whose route accepts r.
// A prefix matches when the path equals it or continues with "/", which is exactly when the
// walk reaches its node.
func (n *node) searchPrefix(rest string, r *httpx.Request) *route {
	seg, after, last := nextSegment(rest)
	c := n.child(seg)
	if c == nil {
		return nil
	}
	if !last {
		if rt := c.searchPrefix(after, r); rt != nil {
			return rt
		}
	}
	return firstAccepting(c.routes, r)
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
