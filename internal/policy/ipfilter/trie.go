package ipfilter

import "net/netip"

type verdict int8

const (
	unset verdict = iota
	allow
	deny
)

// trie is a binary trie over address bits, in one slice so a lookup follows indexes and
// allocates nothing. A lookup walks at most 32 (IPv4) or 128 (IPv6) nodes, remembering the
// verdict of the deepest prefix passed: longest-prefix match.
type trie struct {
	nodes []node
}

type node struct {
	child [2]int32 // 0: none (node 0 is the root, never a child)
	v     verdict
}

func (t *trie) init() { t.nodes = []node{{}} }

func (t *trie) insert(a netip.Addr, bits int, v verdict) {
	b := a.AsSlice()
	n := int32(0)
	for i := 0; i < bits; i++ {
		bit := (b[i/8] >> (7 - i%8)) & 1
		next := t.nodes[n].child[bit]
		if next == 0 {
			t.nodes = append(t.nodes, node{})
			next = int32(len(t.nodes) - 1)
			t.nodes[n].child[bit] = next
		}
		n = next
	}
	t.nodes[n].v = v
}

func (t *trie) lookup(a netip.Addr) verdict {
	b := a.As16() // IPv4 sits in the last 4 bytes
	off := 0
	bits := 128
	if a.Is4() {
		off, bits = 12, 32
	}
	nodes := t.nodes
	best := nodes[0].v
	n := int32(0)
	for i := 0; i < bits; i++ {
		bit := (b[off+i/8] >> (7 - i%8)) & 1
		n = nodes[n].child[bit]
		if n == 0 {
			break
		}
		if v := nodes[n].v; v != unset {
			best = v
		}
	}
	return best
}
