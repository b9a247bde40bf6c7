package ipfilter

import (
	"encoding/binary"
	"net/netip"
)

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
	hi, lo := addrBits(a)
	n := int32(0)
	for i := 0; i < bits; i++ {
		bit := bitAt(hi, lo, i)
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
	hi, lo := addrBits(a)
	bits := a.BitLen()
	nodes := t.nodes
	best := nodes[0].v
	n := int32(0)
	for i := 0; i < bits; i++ {
		n = nodes[n].child[bitAt(hi, lo, i)]
		if n == 0 {
			break
		}
		if v := nodes[n].v; v != unset {
			best = v
		}
	}
	return best
}

// addrBits is the address as 128 bits from the most significant; an IPv4 address fills the
// top 32.
func addrBits(a netip.Addr) (hi, lo uint64) {
	if a.Is4() {
		b := a.As4()
		return uint64(binary.BigEndian.Uint32(b[:])) << 32, 0
	}
	b := a.As16()
	return binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])
}

func bitAt(hi, lo uint64, i int) uint64 {
	if i < 64 {
		return hi >> (63 - i) & 1
	}
	return lo >> (127 - i) & 1
}
