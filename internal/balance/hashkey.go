package balance

import (
	"fmt"
	"math/bits"
	"strings"
	"sync/atomic"

	"aya/internal/httpx"
)

type keyKind uint8

const (
	keyIP keyKind = iota
	keyHeader
	keyCookie
	keyQuery
	keyPath
)

// keySource says which part of a request the hash algorithms hash.
type keySource struct {
	kind keyKind
	name string
}

func parseHashKey(s string) (keySource, error) {
	switch s {
	case "", "ip":
		return keySource{kind: keyIP}, nil
	case "path":
		return keySource{kind: keyPath}, nil
	}
	kind, name, _ := strings.Cut(s, ":")
	k := keySource{name: name}
	switch kind {
	case "header":
		k.kind = keyHeader
	case "cookie":
		k.kind = keyCookie
	case "query":
		k.kind = keyQuery
	default:
		return keySource{}, fmt.Errorf("balance: invalid hash key %q: use ip, path, header:NAME, cookie:NAME or query:NAME", s)
	}
	if name == "" {
		return keySource{}, fmt.Errorf("balance: hash key %q names no %s: write it as %s:NAME", s, kind, kind)
	}
	return k, nil
}

// keyHasher turns a request into a 64-bit hash for the hash algorithms. A request without the
// configured key falls back to its client IP; without that too, successive requests get
// successive counter values, mixed, so keyless traffic rotates over the targets in proportion
// to their weight instead of all landing on one.
type keyHasher struct {
	key  keySource
	next atomic.Uint64
}

func (k *keyHasher) sum(r *httpx.Request) uint64 {
	if r != nil {
		var v string
		switch k.key.kind {
		case keyHeader:
			v = r.Header.Get(k.key.name)
		case keyCookie:
			v = r.Cookie(k.key.name)
		case keyQuery:
			v = r.QueryValue(k.key.name)
		case keyPath:
			v = r.Path
		}
		if v != "" {
			return hash(v)
		}
		if h, ok := hashClientIP(r); ok {
			return h
		}
	}
	return mix(k.next.Add(1))
}

// hashClientIP hashes r.ClientIP, or the TCP peer's address when the gateway has not set it.
// IPv4-mapped IPv6 addresses hash as IPv4, so a client keeps its target whichever listener
// family it arrived on.
func hashClientIP(r *httpx.Request) (uint64, bool) {
	ip := r.ClientIP
	if !ip.IsValid() {
		ip = r.RemoteAddr.Addr()
	}
	ip = ip.Unmap()
	switch {
	case ip.Is4():
		b := ip.As4()
		return hash(b[:]), true
	case ip.Is6():
		b := ip.As16()
		return hash(b[:]), true
	}
	return 0, false
}

const (
	prime1 = 0x9e3779b185ebca87
	prime2 = 0xc2b2ae3d27d4eb4f
)

// hash is a fast, deterministic, non-allocating 64-bit hash (xxhash-style rounds over 8-byte
// words, a murmur3 finalizer). It is deterministic on purpose: every aya instance and every
// reload must map a key to the same target, which a per-process random seed would break.
// Keys come from clients, but a skewed key set can only pile load on a target the client
// could pick by choosing its key anyway, so seeding buys no protection here.
func hash[T string | []byte](s T) uint64 {
	h := prime2 + uint64(len(s))*prime1
	for len(s) >= 8 {
		w := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h ^= bits.RotateLeft64(w*prime2, 31) * prime1
		h = bits.RotateLeft64(h, 27)*prime1 + prime2
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i]) * prime2
		h = bits.RotateLeft64(h, 11) * prime1
	}
	return mix(h)
}

// mix is murmur3's 64-bit finalizer: every input bit flips each output bit with probability
// close to 1/2, and it is a bijection, so distinct counters give distinct hashes.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// reduce maps h uniformly onto [0, n) with a multiply instead of a division (Lemire).
func reduce(h uint64, n uint64) uint64 {
	hi, _ := bits.Mul64(h, n)
	return hi
}
