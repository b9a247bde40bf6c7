package h1

import (
	"bytes"
	"net/netip"
	"unsafe"

	"aya/internal/httpx"
)

// reqFraming is what the parser learned about a request beyond the httpx.Request fields: how
// its body is framed and what the connection does afterwards.
type reqFraming struct {
	contentLength  int64 // body length; -1 when chunked; 0 when there is no body
	chunked        bool
	authority      []byte // host[:port] of an absolute-form target, else nil
	keepAlive      bool
	expectContinue bool
}

// b2s returns a string sharing b's memory: the request's strings point into the head buffer,
// which stays untouched until the handler returns (the httpx lifetime rule).
func b2s(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// headLimits bounds a request head.
type headLimits struct {
	maxLine        int // request line without CRLF; beyond it: 414
	maxHeaderBytes int // field lines together, CRLFs included; beyond it: 431
	maxFields      int // beyond it: 431
}

// parseRequest parses the request head at the start of buf into r and f without copying:
// r's strings alias buf. It returns the head's length (final CRLF included) on success; 0
// and status 0 when buf ends before the head does, so the caller needs more bytes; else the
// status to answer with and a message for the client. r.Header must be empty on entry (its
// capacity is reused).
//
// It is one pass over the bytes, validating as it finds line ends, so the common request
// that arrives in one read is looked at once. It is stricter than RFC 9112 requires wherever a
// laxer reading could let two hops disagree on where a request starts or ends, and accepts
// nothing net/http's ReadRequest refuses.
func parseRequest(buf []byte, r *httpx.Request, lim *headLimits, f *reqFraming) (n, status int, msg string) {
	*f = reqFraming{}
	pos, st, msg := parseRequestLine(buf, r, f, lim.maxLine)
	if pos == 0 {
		return 0, st, msg
	}
	lineEnd := pos

	var (
		hostCount, clCount, teCount int
		clValue, teValue            []byte
		connClose, connKeepAlive    bool
		expect                      []byte
		hasExpect                   bool
	)
	for {
		if pos-lineEnd > lim.maxHeaderBytes {
			return 0, 431, "request header fields too large"
		}
		if pos < len(buf) && buf[pos] == '\r' {
			if pos+1 == len(buf) {
				return 0, 0, ""
			}
			if buf[pos+1] != '\n' {
				return 0, 400, "bare CR in request head"
			}
			pos += 2
			break
		}

		// field-name ":" OWS field-value OWS CRLF
		ns := pos
		for pos < len(buf) && isTokenByte[buf[pos]] {
			pos++
		}
		if pos == len(buf) {
			return needMore(pos-lineEnd, lim.maxHeaderBytes, 431)
		}
		if buf[pos] != ':' || pos == ns {
			switch {
			case pos == ns && (buf[pos] == ' ' || buf[pos] == '\t'):
				return 0, 400, "obsolete line folding is not accepted"
			case buf[pos] == '\n':
				return 0, 400, "line ends in a bare LF, CRLF required"
			}
			return 0, 400, "malformed header field"
		}
		name := buf[ns:pos]
		pos++
		for pos < len(buf) && (buf[pos] == ' ' || buf[pos] == '\t') {
			pos++
		}
		vs := pos
		pos += valueEnd(buf[pos:])
		if pos+1 >= len(buf) {
			if pos < len(buf) && buf[pos] != '\r' {
				return 0, 400, "invalid byte in header field value"
			}
			return needMore(pos-lineEnd, lim.maxHeaderBytes, 431)
		}
		if buf[pos] != '\r' {
			if buf[pos] == '\n' {
				return 0, 400, "line ends in a bare LF, CRLF required"
			}
			return 0, 400, "invalid byte in header field value"
		}
		if buf[pos+1] != '\n' {
			return 0, 400, "bare CR in request head"
		}
		value := trimOWS(buf[vs:pos])
		pos += 2
		if len(r.Header) >= lim.maxFields {
			return 0, 431, "too many header fields"
		}

		switch len(name) {
		case 4:
			if equalFoldBytes(name, "host") {
				hostCount++
				r.Host = b2s(value)
			}
		case 6:
			if equalFoldBytes(name, "expect") {
				expect, hasExpect = value, true
			}
		case 7:
			if equalFoldBytes(name, "trailer") && !validTrailerDecl(value) {
				return 0, 400, "Trailer header names a field not allowed in a trailer"
			}
		case 10:
			if equalFoldBytes(name, "connection") {
				c, k := connectionTokens(value)
				connClose = connClose || c
				connKeepAlive = connKeepAlive || k
			}
		case 14:
			if equalFoldBytes(name, "content-length") {
				clCount++
				if clCount > 1 {
					// RFC 9110 §8.6 lets a recipient collapse identical values; anything
					// else means two hops may frame the body differently.
					if !bytes.Equal(value, clValue) {
						return 0, 400, "conflicting Content-Length headers"
					}
					continue
				}
				clValue = value
			}
		case 17:
			if equalFoldBytes(name, "transfer-encoding") {
				teCount++
				teValue = value
			}
		}
		r.Header = append(r.Header, httpx.Field{Name: b2s(name), Value: b2s(value)})
	}
	if pos-lineEnd > lim.maxHeaderBytes {
		return 0, 431, "request header fields too large"
	}
	if st, msg := checkFraming(r, f, hostCount, clCount, teCount, clValue, teValue, connClose, connKeepAlive, expect, hasExpect); st != 0 {
		return 0, st, msg
	}
	return pos, 0, ""
}

// needMore reports an incomplete head: more bytes are needed, unless what is there already
// exceeds its limit.
func needMore(have, limit, status int) (int, int, string) {
	if have > limit {
		if status == 414 {
			return 0, 414, "request line too long"
		}
		return 0, 431, "request header fields too large"
	}
	return 0, 0, ""
}

// checkFraming applies the rules that need the whole head: Host, body framing, Expect and
// persistence.
func checkFraming(r *httpx.Request, f *reqFraming, hostCount, clCount, teCount int, clValue, teValue []byte,
	connClose, connKeepAlive bool, expect []byte, hasExpect bool) (int, string) {
	http11 := r.ProtoMinor == 1
	switch {
	case hostCount > 1:
		return 400, "more than one Host header"
	case hostCount == 0 && http11:
		return 400, "missing Host header"
	case hostCount == 1 && !validHost(r.Host):
		return 400, "invalid Host header"
	}
	if f.authority != nil {
		// Absolute-form: RFC 9112 §3.2.2 says the target's authority wins over Host.
		r.Host = b2s(f.authority)
	}

	if teCount > 0 {
		switch {
		case clCount > 0:
			return 400, "both Content-Length and Transfer-Encoding present"
		case !http11:
			return 400, "Transfer-Encoding is not allowed in HTTP/1.0"
		case teCount > 1:
			return 400, "more than one Transfer-Encoding header"
		}
		if st, msg := checkTransferEncoding(teValue); st != 0 {
			return st, msg
		}
		f.chunked = true
		f.contentLength = -1
	} else if clCount > 0 {
		n, ok := parseContentLength(clValue)
		if !ok {
			return 400, "invalid Content-Length"
		}
		f.contentLength = n
	}

	if hasExpect {
		// RFC 9110 §10.1.1: an HTTP/1.0 client cannot mean 100-continue; ignore it there.
		if !equalFoldBytes(expect, "100-continue") {
			return 417, "unsupported Expect value"
		}
		f.expectContinue = http11 && f.contentLength != 0
	}

	f.keepAlive = !connClose && (http11 || connKeepAlive)
	r.Close = !f.keepAlive
	r.ContentLength = f.contentLength
	return 0, ""
}

// parseRequestLine parses "method SP request-target SP HTTP-version CRLF" at the start of buf,
// single spaces only, and returns the offset just past its CRLF (0 when buf ends first, or on
// an error, which status then says).
func parseRequestLine(buf []byte, r *httpx.Request, f *reqFraming, maxLine int) (int, int, string) {
	i := 0
	for i < len(buf) && isTokenByte[buf[i]] {
		i++
	}
	if i == len(buf) {
		return needMore(i, maxLine, 414)
	}
	if i == 0 || buf[i] != ' ' {
		switch {
		case i == 0 && (buf[0] == '\r' || buf[0] == '\n'):
			return 0, 400, "empty line before the request line"
		case i == 0 || buf[i] == '\r' || buf[i] == '\n':
			return 0, 400, "malformed request line"
		}
		return 0, 400, "invalid method"
	}
	method := buf[:i]
	ts := i + 1
	j := ts
	for j < len(buf) && isTargetByte[buf[j]] {
		j++
	}
	if j == len(buf) {
		return needMore(j, maxLine, 414)
	}
	if buf[j] != ' ' {
		if buf[j] == '\r' || buf[j] == '\n' {
			return 0, 400, "malformed request line"
		}
		// Visible ASCII only: raw spaces, controls and non-ASCII bytes must be
		// percent-encoded, and a fragment is never sent (RFC 9112 §3.2).
		return 0, 400, "invalid character in request target"
	}
	if j == ts {
		return 0, 400, "empty request target"
	}
	target := buf[ts:j]
	vs := j + 1
	if len(buf) < vs+10 {
		if bytes.IndexByte(buf[vs:], '\n') >= 0 {
			return 0, 400, "malformed HTTP version"
		}
		return needMore(len(buf), maxLine, 414)
	}
	version := buf[vs : vs+8]
	if vs+8 > maxLine {
		return 0, 414, "request line too long"
	}
	switch {
	case string(version) == "HTTP/1.1":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	case string(version) == "HTTP/1.0":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0
	case string(version[:5]) == "HTTP/" && isDigit(version[5]) && version[6] == '.' && isDigit(version[7]) &&
		buf[vs+8] == '\r' && buf[vs+9] == '\n':
		return 0, 505, "only HTTP/1.0 and HTTP/1.1 are supported on this connection"
	default:
		return 0, 400, "malformed HTTP version"
	}
	if buf[vs+8] != '\r' || buf[vs+9] != '\n' {
		return 0, 400, "malformed HTTP version"
	}
	end := vs + 10

	r.Method = b2s(method)
	if string(method) == "CONNECT" {
		return 0, 501, "CONNECT is not supported"
	}
	r.Target = b2s(target)

	switch {
	case target[0] == '/':
		path, query := splitQuery(target)
		if !validPercent(path) {
			return 0, 400, "invalid percent-encoding in path"
		}
		r.Path, r.Query = b2s(path), b2s(query)
	case len(target) == 1 && target[0] == '*':
		if string(method) != "OPTIONS" {
			return 0, 400, "asterisk-form target is only allowed for OPTIONS"
		}
		r.Path = "*"
	default:
		if st, msg := parseAbsoluteTarget(target, r, f); st != 0 {
			return 0, st, msg
		}
	}
	return end, 0, ""
}

// parseAbsoluteTarget handles absolute-form ("http://host[:port]/path?query"), sent by
// clients that think they talk to a forward proxy. Only http and https are accepted, with no
// userinfo. Target, Path and Query describe the origin-form part.
func parseAbsoluteTarget(target []byte, r *httpx.Request, f *reqFraming) (int, string) {
	var rest []byte
	switch {
	case len(target) > 7 && equalFoldBytes(target[:7], "http://"):
		rest = target[7:]
	case len(target) > 8 && equalFoldBytes(target[:8], "https://"):
		rest = target[8:]
	default:
		return 400, "request target must be origin-form or an absolute http(s) URI"
	}
	end := 0
	for end < len(rest) && rest[end] != '/' && rest[end] != '?' {
		end++
	}
	if end == 0 || !validHost(b2s(rest[:end])) {
		return 400, "invalid host in absolute request target"
	}
	f.authority = rest[:end]
	rest = rest[end:]
	path, query := splitQuery(rest)
	if !validPercent(path) {
		return 400, "invalid percent-encoding in path"
	}
	r.Query = b2s(query)
	if len(path) > 0 {
		r.Path = b2s(path)
		r.Target = b2s(rest)
		return 0, ""
	}
	r.Path = "/"
	if len(rest) == 0 {
		r.Target = "/"
	} else {
		// "http://h?q": the only shape whose origin-form is not a suffix of the target, and
		// rare enough that one allocation does not matter.
		r.Target = "/" + string(rest)
	}
	return 0, ""
}

// splitQuery splits a target at its first '?'.
func splitQuery(t []byte) (path, query []byte) {
	if i := bytes.IndexByte(t, '?'); i >= 0 {
		return t[:i], t[i+1:]
	}
	return t, nil
}

// validPercent reports whether every '%' in s starts a %XX escape: net/http refuses a path
// with a broken escape, and a router that decodes must never see one.
func validPercent(s []byte) bool {
	for i := bytes.IndexByte(s, '%'); i >= 0; i = bytes.IndexByte(s, '%') {
		if i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0 {
			return false
		}
		s = s[i+3:]
	}
	return true
}

// validHost checks uri-host [":" port] (RFC 9110 §7.2) narrowly: a DNS-style reg-name
// (letters, digits, "-", ".", "_", "~") or a bracketed IPv6 literal, then optional digits for
// the port. Routing keys on Host, so anything a downstream hop could parse differently (a
// userinfo "@", a percent-escape, a second colon, a comma) is refused. Empty is allowed:
// RFC 9112 §3.2 permits an empty Host when the target has no authority.
func validHost(h string) bool {
	if h == "" {
		return true
	}
	host, port := h, ""
	if h[0] == '[' {
		end := 1
		for end < len(h) && h[end] != ']' {
			end++
		}
		if end == len(h) {
			return false
		}
		a, err := netip.ParseAddr(h[1:end])
		if err != nil || !a.Is6() || a.Zone() != "" {
			return false
		}
		host, port = "", h[end+1:]
		if port != "" && port[0] != ':' {
			return false
		}
	} else {
		for i := 0; i < len(h); i++ {
			if h[i] == ':' {
				host, port = h[:i], h[i:]
				break
			}
		}
		if host == "" {
			return false
		}
		for i := 0; i < len(host); i++ {
			if !isHostByte[host[i]] {
				return false
			}
		}
	}
	if port == "" {
		return true
	}
	if len(port) == 1 || len(port) > 6 {
		return false
	}
	for i := 1; i < len(port); i++ {
		if !isDigit(port[i]) {
			return false
		}
	}
	return true
}

var isHostByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "-._~" {
		t[c] = true
	}
	return t
}()

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// parseContentLength accepts 1*DIGIT that fits in an int63, as net/http does, and nothing
// else: no sign, no inner spaces, no comma lists.
func parseContentLength[T string | []byte](v T) (int64, bool) {
	if len(v) == 0 || len(v) > 19 {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	if n > 1<<63-1 {
		return 0, false
	}
	return int64(n), true
}

// checkTransferEncoding accepts exactly "chunked": RFC 9112 §6.1 requires chunked to be the
// final coding of a request, and aya decodes no other, so a list is refused outright rather
// than forwarded for another hop to interpret.
func checkTransferEncoding(v []byte) (int, string) {
	if equalFoldBytes(v, "chunked") {
		return 0, ""
	}
	if bytes.IndexByte(v, ',') >= 0 || len(v) == 0 {
		return 400, "only \"Transfer-Encoding: chunked\" is accepted"
	}
	return 501, "unsupported transfer coding"
}

// validTrailerDecl checks a Trailer header (the list of trailer fields to come): none may be
// a framing or routing field (net/http refuses these too).
func validTrailerDecl(v []byte) bool {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var tok []byte
		if i < 0 {
			tok, v = v, nil
		} else {
			tok, v = v[:i], v[i+1:]
		}
		if forbiddenTrailer(trimOWS(tok)) {
			return false
		}
	}
	return true
}

// connectionTokens reports whether a Connection header value lists "close" or "keep-alive".
func connectionTokens(v []byte) (hasClose, hasKeepAlive bool) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var tok []byte
		if i < 0 {
			tok, v = v, nil
		} else {
			tok, v = v[:i], v[i+1:]
		}
		tok = trimOWS(tok)
		switch {
		case equalFoldBytes(tok, "close"):
			hasClose = true
		case equalFoldBytes(tok, "keep-alive"):
			hasKeepAlive = true
		}
	}
	return hasClose, hasKeepAlive
}
