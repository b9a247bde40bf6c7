package proxy

import (
	"aya/internal/httpx"
	"aya/internal/upstream"
)

// fieldKind sorts header names the proxy treats specially. One switch on the length, then a
// case-folded compare, so classifying a field costs about one comparison.
type fieldKind uint8

const (
	plain         fieldKind = iota
	hop                     // hop-by-hop or framing: never forwarded
	host                    // replaced by the target's (or the preserved) host
	expect                  // answered by aya itself
	xff                     // X-Forwarded-For: kept and extended
	xfProto                 // X-Forwarded-Proto: kept only from trusted peers
	xfHost                  // X-Forwarded-Host: kept only from trusted peers
	forwarded               // Forwarded: kept only from trusted peers, extended
	requestID               // replaced by the request's id
	xfClientCert            // X-Forwarded-Client-Cert: replaced, or kept from trusted peers
	connectionHdr           // Connection (hop-by-hop; its tokens name more hop-by-hop fields)
	upgrade                 // Upgrade (hop-by-hop, except an accepted WebSocket upgrade)
)

func kindOf(name string) fieldKind {
	eq := httpx.EqualFold
	switch len(name) {
	case 2:
		if eq(name, "TE") {
			return hop
		}
	case 4:
		if eq(name, "Host") {
			return host
		}
	case 6:
		if eq(name, "Expect") {
			return expect
		}
	case 7:
		if eq(name, "Upgrade") {
			return upgrade
		}
		if eq(name, "Trailer") {
			return hop
		}
	case 9:
		if eq(name, "Forwarded") {
			return forwarded
		}
	case 10:
		if eq(name, "Connection") {
			return connectionHdr
		}
		if eq(name, "Keep-Alive") {
			return hop
		}
	case 12:
		if eq(name, "X-Request-ID") {
			return requestID
		}
	case 14:
		if eq(name, "Content-Length") {
			return hop
		}
	case 15:
		if eq(name, "X-Forwarded-For") {
			return xff
		}
	case 16:
		if eq(name, "X-Forwarded-Host") {
			return xfHost
		}
		if eq(name, "Proxy-Connection") {
			return hop
		}
	case 17:
		if eq(name, "X-Forwarded-Proto") {
			return xfProto
		}
		if eq(name, "Transfer-Encoding") {
			return hop
		}
	case 18:
		if eq(name, "Proxy-Authenticate") {
			return hop
		}
	case 19:
		if eq(name, "Proxy-Authorization") {
			return hop
		}
	case 23:
		if eq(name, "X-Forwarded-Client-Cert") {
			return xfClientCert
		}
	}
	return plain
}

// buildHeader writes the upstream request's header in one pass over the client's: end-to-end
// fields copied, hop-by-hop ones dropped, and the fields aya owns (Host, X-Forwarded-*,
// Forwarded, X-Request-ID, X-Forwarded-Client-Cert) written once at the end. The route's
// header rules run last, so a route can still override any of them.
func (p *Proxy) buildHeader(out *httpx.Header, r *httpx.Request, t *upstream.Target, sc *scratch) {
	rt := &p.route
	peer := r.RemoteAddr.Addr()
	trusted := len(rt.Trust) > 0 && rt.Trust.contains(peer)
	hasConn := false
	for i := range r.Header {
		if len(r.Header[i].Name) == 10 && httpx.EqualFold(r.Header[i].Name, "Connection") {
			hasConn = true
			break
		}
	}

	xffStart, xffCount := len(sc.buf), 0
	fwdLen := 0
	keptProto, keptHost := false, false
	upgradeValue := ""
	for _, f := range r.Header {
		switch kindOf(f.Name) {
		case plain:
			if hasConn && namedInConnection(r.Header, f.Name) {
				continue
			}
			*out = append(*out, f)
		case xff:
			if xffCount > 0 {
				sc.buf = append(sc.buf, ", "...)
			}
			sc.buf = append(sc.buf, f.Value...)
			xffCount++
		case xfProto:
			if trusted && !keptProto {
				*out = append(*out, f)
				keptProto = true
			}
		case xfHost:
			if trusted && !keptHost {
				*out = append(*out, f)
				keptHost = true
			}
		case xfClientCert:
			if trusted && r.TLS == nil {
				*out = append(*out, f)
			}
		case forwarded:
			if trusted {
				fwdLen++ // collected below, once X-Forwarded-For is complete in the scratch
			}
		case upgrade:
			upgradeValue = f.Value
		}
	}

	if rt.PreserveHost && r.Host != "" {
		*out = append(*out, httpx.Field{Name: "Host", Value: r.Host})
	} else {
		*out = append(*out, httpx.Field{Name: "Host", Value: t.Host})
	}
	// A WebSocket upgrade is the one Upgrade aya forwards: it knows how to tunnel it.
	if upgradeValue != "" && httpx.EqualFold(upgradeValue, "websocket") && namedInConnection(r.Header, "upgrade") {
		*out = append(*out, httpx.Field{Name: "Connection", Value: "Upgrade"}, httpx.Field{Name: "Upgrade", Value: upgradeValue})
	}

	// X-Forwarded-For always gets the peer: the trust list only decides which address aya
	// uses as the client, not what it reports.
	if xffCount > 0 {
		sc.buf = append(sc.buf, ", "...)
	}
	sc.appendAddr(peer, false)
	*out = append(*out, httpx.Field{Name: "X-Forwarded-For", Value: sc.str(xffStart)})
	proto := r.Scheme()
	if !keptProto {
		*out = append(*out, httpx.Field{Name: "X-Forwarded-Proto", Value: proto})
	}
	if !keptHost && r.Host != "" {
		*out = append(*out, httpx.Field{Name: "X-Forwarded-Host", Value: r.Host})
	}

	start := len(sc.buf)
	if fwdLen > 0 {
		for _, f := range r.Header {
			if len(f.Name) == 9 && httpx.EqualFold(f.Name, "Forwarded") {
				sc.buf = append(sc.buf, f.Value...)
				sc.buf = append(sc.buf, ", "...)
			}
		}
	}
	sc.buf = append(sc.buf, "for="...)
	if peer.Unmap().Is6() {
		sc.buf = append(sc.buf, '"')
		sc.appendAddr(peer, true)
		sc.buf = append(sc.buf, '"')
	} else {
		sc.appendAddr(peer, false)
	}
	switch forwardedValue(r.Host) {
	case token:
		sc.buf = append(sc.buf, ";host="...)
		sc.buf = append(sc.buf, r.Host...)
	case quoted:
		sc.buf = append(sc.buf, ";host=\""...)
		sc.buf = append(sc.buf, r.Host...)
		sc.buf = append(sc.buf, '"')
	}
	sc.buf = append(sc.buf, ";proto="...)
	sc.buf = append(sc.buf, proto...)
	*out = append(*out, httpx.Field{Name: "Forwarded", Value: sc.str(start)})

	if v := clientCertHeader(r.TLS); v != "" {
		*out = append(*out, httpx.Field{Name: "X-Forwarded-Client-Cert", Value: v})
	}
	if r.ID != "" {
		*out = append(*out, httpx.Field{Name: "X-Request-ID", Value: r.ID})
	}
	rt.RequestHeaders.Apply(out)
}
