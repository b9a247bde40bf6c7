package proxy

import (
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"net/netip"

	"aya/internal/httpx"
)

// Trust is the set of proxies whose X-Forwarded-For aya believes when it decides the client IP.
type Trust []netip.Prefix

func (t Trust) contains(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range t {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ClientIP returns the address aya treats as the client. With no trusted proxies it is the TCP
// peer. When the peer is trusted, X-Forwarded-For is walked right to left past trusted hops and
// the first untrusted address wins: the left-most entries are client-supplied and can be forged,
// so they only count once every hop after them is one we trust.
func ClientIP(r *httpx.Request, trust Trust) netip.Addr {
	peer := r.RemoteAddr.Addr().Unmap()
	if len(trust) == 0 || !trust.contains(peer) {
		return peer
	}
	client := peer
	// Fields are walked from the last; within a field, entries from the last comma.
	for i := len(r.Header) - 1; i >= 0; i-- {
		if !httpx.EqualFold(r.Header[i].Name, "X-Forwarded-For") {
			continue
		}
		v := r.Header[i].Value
		for end := len(v); end > 0; {
			start := end - 1
			for start >= 0 && v[start] != ',' {
				start--
			}
			a, err := netip.ParseAddr(trimOWS(v[start+1 : end]))
			if err != nil {
				return client
			}
			client = a.Unmap()
			if !trust.contains(client) {
				return client
			}
			end = start
		}
	}
	return client
}

type valueForm int

const (
	omit valueForm = iota
	token
	quoted
)

// forwardedValue says how s may appear in a Forwarded parameter (RFC 7239 §4): bare when it is
// a token, quoted when it only has safe characters otherwise (a host:port), and not at all when
// quoting it would need escapes — a hostile Host must not inject parameters.
func forwardedValue(s string) valueForm {
	if s == "" {
		return omit
	}
	form := token
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '-' || c == '_' || c == '~':
		case c == ':' || c == '[' || c == ']':
			form = quoted
		default:
			return omit
		}
	}
	return form
}

// clientCertHeader describes a verified client certificate for the upstream, in the shape of
// Envoy's X-Forwarded-Client-Cert: the certificate hash and its subject.
func clientCertHeader(cs *tls.ConnectionState) string {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return ""
	}
	leaf := cs.PeerCertificates[0]
	sum := sha256.Sum256(leaf.Raw)
	return "Hash=" + hex.EncodeToString(sum[:]) + `;Subject="` + leaf.Subject.String() + `"`
}
