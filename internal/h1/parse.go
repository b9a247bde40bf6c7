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

// nextLine returns the line at the start of s without its CRLF and the rest after it. ok is
// false when there is no LF or the LF is not preceded by CR (bare LF is refused: a hop that
// splits lines differently would see other headers than we do).
func nextLine(s []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(s, '\n')
	if i < 1 || s[i-1] != '\r' {
		return nil, nil, false
	}
	return s[:i-1], s[i+1:], true
}

// parseRequest parses a complete request head (request line, fields, empty line, each ending
// in CRLF) into r and f without copying: r's strings alias head. It returns 0 and "" on
// success, else the status to answer with and a message for the client. r.Header must be
// empty on entry (its capacity is reused).
//
// It is stricter than RFC 9112 requires wherever a laxer reading could let two hops disagree
// on where a request starts or ends, and accepts nothing net/http's ReadRequest refuses.
func parseRequest(head []byte, r *httpx.Request, maxFields int, f *reqFraming) (int, string) {
	line, rest, ok := nextLine(head)
	if !ok {
		return 400, "request line must end in CRLF"
	}
	*f = reqFraming{}
	if st, msg := parseRequestLine(line, r, f); st != 0 {
		return st, msg
	}

	var (
		hostCount, clCount, teCount int
		clValue, teValue            []byte
		connClose, connKeepAlive    bool
		expect                      []byte
		hasExpect                   bool
	)
	for {
		line, rest, ok = nextLine(rest)
		if !ok {
			return 400, "header line must end in CRLF"
		}
		if len(line) == 0 {
			break
		}
		if len(r.Header) >= maxFields {
			return 431, "too many header fields"
		}
		name, value, ok := splitField(line)
		if !ok {
			if line[0] == ' ' || line[0] == '\t' {
				return 400, "obsolete line folding is not accepted"
			}
			return 400, "malformed header field"
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
				return 400, "Trailer header names a field not allowed in a trailer"
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
						return 400, "conflicting Content-Length headers"
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
	if len(rest) != 0 {
		return 400, "bytes after the end of the request head"
	}

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

// parseRequestLine parses "method SP request-target SP HTTP-version", single spaces only.
func parseRequestLine(line []byte, r *httpx.Request, f *reqFraming) (int, string) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return 400, "malformed request line"
	}
	method, rest := line[:sp], line[sp+1:]
	if !validToken(method) {
		return 400, "invalid method"
	}
	sp = bytes.IndexByte(rest, ' ')
	if sp < 0 {
		return 400, "malformed request line"
	}
	target, version := rest[:sp], rest[sp+1:]

	switch {
	case string(version) == "HTTP/1.1":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	case string(version) == "HTTP/1.0":
		r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.0", 1, 0
	case len(version) == 8 && string(version[:5]) == "HTTP/" && isDigit(version[5]) &&
		version[6] == '.' && isDigit(version[7]):
		return 505, "only HTTP/1.0 and HTTP/1.1 are supported on this connection"
	default:
		return 400, "malformed HTTP version"
	}

	r.Method = b2s(method)
	if string(method) == "CONNECT" {
		return 501, "CONNECT is not supported"
	}
	if len(target) == 0 {
		return 400, "empty request target"
	}
	for _, c := range target {
		// Visible ASCII only: raw spaces, controls and non-ASCII bytes must be
		// percent-encoded, and a fragment is never sent (RFC 9112 §3.2).
		if c <= ' ' || c >= 0x7f || c == '#' {
			return 400, "invalid character in request target"
		}
	}
	r.Target = b2s(target)

	switch {
	case target[0] == '/':
		path, query := splitQuery(target)
		if !validPercent(path) {
			return 400, "invalid percent-encoding in path"
		}
		r.Path, r.Query = b2s(path), b2s(query)
	case len(target) == 1 && target[0] == '*':
		if string(method) != "OPTIONS" {
			return 400, "asterisk-form target is only allowed for OPTIONS"
		}
		r.Path = "*"
	default:
		return parseAbsoluteTarget(target, r, f)
	}
	return 0, ""
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
