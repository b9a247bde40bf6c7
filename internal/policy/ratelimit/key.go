package ratelimit

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"strings"

	"aya/internal/httpx"
	"aya/internal/policy"
)

// PartKind is what one part of a key takes from the request.
type PartKind uint8

const (
	// Consumer is the authenticated consumer's name; an anonymous request counts by its
	// client IP instead (so a limit keyed by consumer still holds without auth).
	Consumer PartKind = iota + 1
	// IP is the client IP (after trusted proxies).
	IP
	// Header is a request header's value; a request without it counts by its client IP.
	Header
	// Route is the matched route's name (useful in a listener's default policies, where one
	// limiter serves many routes).
	Route
)

// Part is one part of a key.
type Part struct {
	Kind PartKind
	Name string // the header's name, for Header
}

// Key says what a request is counted by; several parts make a composite key ("consumer,ip":
// each consumer from each IP counts separately).
type Key []Part

// maxKeyValue is the longest value kept as is; longer ones (a huge header an attacker picked)
// are replaced by their SHA-256, so one key never takes more than a few hundred bytes.
const maxKeyValue = 128

// ParseKey reads a key as written in config: consumer, ip, route, header:NAME, or several of
// them separated by commas.
func ParseKey(s string) (Key, error) {
	if strings.TrimSpace(s) == "" {
		return nil, fmt.Errorf("empty key: write consumer, ip, route, header:NAME or a list like consumer,ip")
	}
	var k Key
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		var p Part
		switch {
		case item == "consumer":
			p.Kind = Consumer
		case item == "ip":
			p.Kind = IP
		case item == "route":
			p.Kind = Route
		case strings.HasPrefix(item, "header:"):
			name := strings.TrimSpace(strings.TrimPrefix(item, "header:"))
			if !validToken(name) {
				return nil, fmt.Errorf("key part %q: write header:NAME with a header name like X-User", item)
			}
			p = Part{Kind: Header, Name: name}
		default:
			return nil, fmt.Errorf("unknown key part %q: use consumer, ip, route or header:NAME", item)
		}
		for _, q := range k {
			if q.Kind == p.Kind && httpx.EqualFold(q.Name, p.Name) {
				return nil, fmt.Errorf("key part %q is listed twice", item)
			}
		}
		k = append(k, p)
	}
	return k, nil
}

func (k Key) String() string {
	var b strings.Builder
	for i, p := range k {
		if i > 0 {
			b.WriteByte(',')
		}
		switch p.Kind {
		case Consumer:
			b.WriteString("consumer")
		case IP:
			b.WriteString("ip")
		case Route:
			b.WriteString("route")
		case Header:
			b.WriteString("header:" + p.Name)
		}
	}
	return b.String()
}

// needsState reports whether building the key reads the request's policy.State.
func (k Key) needsState() bool {
	for _, p := range k {
		if p.Kind == Consumer || p.Kind == Route {
			return true
		}
	}
	return false
}

// appendKey appends r's key to dst. Each part is a tag byte and a length-prefixed value, so
// no two different requests' parts can run together into the same bytes.
func (k Key) appendKey(dst []byte, r *httpx.Request, st *policy.State) []byte {
	for _, p := range k {
		switch p.Kind {
		case Consumer:
			if st.Consumer != nil {
				dst = appendValue(dst, 'c', st.Consumer.Name)
			} else {
				dst = appendIP(dst, r)
			}
		case IP:
			dst = appendIP(dst, r)
		case Route:
			dst = appendValue(dst, 'r', st.Route)
		case Header:
			if v, ok := r.Header.Lookup(p.Name); ok {
				dst = appendValue(dst, 'h', v)
			} else {
				dst = appendIP(dst, r)
			}
		}
	}
	return dst
}

func appendValue(dst []byte, tag byte, v string) []byte {
	dst = append(dst, tag)
	if len(v) > maxKeyValue {
		sum := sha256.Sum256([]byte(v))
		dst = append(dst, '#')
		return append(dst, sum[:]...)
	}
	dst = binary.AppendUvarint(dst, uint64(len(v)))
	return append(dst, v...)
}

func appendIP(dst []byte, r *httpx.Request) []byte {
	a := r.ClientIP.As16()
	dst = append(dst, 'i')
	return append(dst, a[:]...)
}

// validToken reports whether s is an HTTP token (a header name).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
