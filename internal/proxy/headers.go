package proxy

import (
	"net/netip"
	"strconv"

	"aya/internal/httpx"
)

// namedInConnection reports whether name is listed as a token in any Connection field of h.
// A sender may mark any field hop-by-hop this way; forwarding it would let a client smuggle
// connection-scoped data (or strip headers the upstream relies on).
func namedInConnection(h httpx.Header, name string) bool {
	for i := range h {
		if !httpx.EqualFold(h[i].Name, "Connection") {
			continue
		}
		v := h[i].Value
		for v != "" {
			j := 0
			for j < len(v) && v[j] != ',' {
				j++
			}
			if httpx.EqualFold(trimOWS(v[:j]), name) {
				return true
			}
			if j == len(v) {
				break
			}
			v = v[j+1:]
		}
	}
	return false
}

func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// copyEndToEnd appends to dst every field of src that is end-to-end: not hop-by-hop, not
// framing, and not named in src's Connection fields.
func copyEndToEnd(dst *httpx.Header, src httpx.Header) {
	hasConn := false
	for i := range src {
		if len(src[i].Name) == 10 && httpx.EqualFold(src[i].Name, "Connection") {
			hasConn = true
			break
		}
	}
	for _, f := range src {
		switch kindOf(f.Name) {
		case hop, connectionHdr, upgrade:
			continue
		}
		if hasConn && namedInConnection(src, f.Name) {
			continue
		}
		*dst = append(*dst, f)
	}
}

// HeaderRules are the set/add/remove edits a route applies to a header.
type HeaderRules struct {
	Set    []httpx.Field
	Add    []httpx.Field
	Remove []string
}

// Empty reports whether the rules change nothing.
func (r *HeaderRules) Empty() bool {
	return len(r.Set) == 0 && len(r.Add) == 0 && len(r.Remove) == 0
}

// Apply edits h: remove first, then set, then add, so a rule list reads the way it runs.
func (r *HeaderRules) Apply(h *httpx.Header) {
	for _, name := range r.Remove {
		h.Del(name)
	}
	for _, f := range r.Set {
		h.Set(f.Name, f.Value)
	}
	for _, f := range r.Add {
		h.Add(f.Name, f.Value)
	}
}

// scratch is per-request byte space for header values aya composes (X-Forwarded-For, lengths).
// Values are carved from it as unsafe strings; it only grows, so earlier strings stay valid
// until the request ends — grow reallocates only by copying into a new array, leaving the old
// one (and strings into it) intact.
type scratch struct {
	buf []byte
}

func (s *scratch) reset() { s.buf = s.buf[:0] }

// str returns the bytes appended since start as a string that lives as long as the request.
func (s *scratch) str(start int) string {
	return unsafeString(s.buf[start:])
}

func (s *scratch) appendInt(n int64) string {
	start := len(s.buf)
	s.buf = strconv.AppendInt(s.buf, n, 10)
	return s.str(start)
}

// appendAddr appends an IP address; IPv6 addresses in brackets when bracket is set.
func (s *scratch) appendAddr(a netip.Addr, bracket bool) {
	a = a.Unmap()
	if bracket && a.Is6() {
		s.buf = append(s.buf, '[')
		s.buf = a.AppendTo(s.buf)
		s.buf = append(s.buf, ']')
		return
	}
	s.buf = a.AppendTo(s.buf)
}
