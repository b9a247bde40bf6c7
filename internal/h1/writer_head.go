package h1

import (
	"bufio"
	"strconv"
	"sync/atomic"
	"time"
)

// statusLines holds the status line of every code with a registered reason phrase, built once,
// so a response head starts with one copy.
var statusLines = func() (t [600]string) {
	for code, reason := range map[int]string{
		100: "Continue", 101: "Switching Protocols", 102: "Processing", 103: "Early Hints",
		200: "OK", 201: "Created", 202: "Accepted", 203: "Non-Authoritative Information",
		204: "No Content", 205: "Reset Content", 206: "Partial Content", 207: "Multi-Status",
		208: "Already Reported", 226: "IM Used",
		300: "Multiple Choices", 301: "Moved Permanently", 302: "Found", 303: "See Other",
		304: "Not Modified", 305: "Use Proxy", 307: "Temporary Redirect", 308: "Permanent Redirect",
		400: "Bad Request", 401: "Unauthorized", 402: "Payment Required", 403: "Forbidden",
		404: "Not Found", 405: "Method Not Allowed", 406: "Not Acceptable",
		407: "Proxy Authentication Required", 408: "Request Timeout", 409: "Conflict",
		410: "Gone", 411: "Length Required", 412: "Precondition Failed", 413: "Content Too Large",
		414: "URI Too Long", 415: "Unsupported Media Type", 416: "Range Not Satisfiable",
		417: "Expectation Failed", 418: "I'm a teapot", 421: "Misdirected Request",
		422: "Unprocessable Content", 423: "Locked", 424: "Failed Dependency", 425: "Too Early",
		426: "Upgrade Required", 428: "Precondition Required", 429: "Too Many Requests",
		431: "Request Header Fields Too Large", 451: "Unavailable For Legal Reasons",
		500: "Internal Server Error", 501: "Not Implemented", 502: "Bad Gateway",
		503: "Service Unavailable", 504: "Gateway Timeout", 505: "HTTP Version Not Supported",
		506: "Variant Also Negotiates", 507: "Insufficient Storage", 508: "Loop Detected",
		510: "Not Extended", 511: "Network Authentication Required",
	} {
		t[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + reason + "\r\n"
	}
	return t
}()

// writeStatusLine writes "HTTP/1.1 <code> <reason>\r\n"; codes without a registered reason get
// an empty one, which RFC 9112 §4 allows.
func writeStatusLine(bw *bufio.Writer, code int) {
	if code < len(statusLines) && statusLines[code] != "" {
		bw.WriteString(statusLines[code])
		return
	}
	bw.WriteString("HTTP/1.1 ")
	writeInt(bw, int64(code))
	bw.WriteString(" \r\n")
}

// writeInt writes n in decimal without allocating, formatting into bw's free space.
func writeInt(bw *bufio.Writer, n int64) {
	if bw.Available() < 20 {
		bw.Flush()
	}
	bw.Write(strconv.AppendInt(bw.AvailableBuffer(), n, 10))
}

// dateCache holds the "Date: ...\r\n" line. Formatting a date costs more than the rest of a
// small response head, and reading the clock on every response is not free either, so the
// line is rebuilt once a second by the Server's liveness goroutine (and on first use), and
// responses only load it. RFC 9110 §6.6.1 allows the date to be approximate.
type dateCache struct {
	v atomic.Pointer[dateLine]
}

type dateLine struct {
	sec  int64
	line []byte
}

// imfFixdate is the only date format HTTP senders may generate (RFC 9110 §5.6.7).
const imfFixdate = "Mon, 02 Jan 2006 15:04:05 GMT"

// line returns the current Date line.
func (d *dateCache) line() []byte {
	if v := d.v.Load(); v != nil {
		return v.line
	}
	return d.refresh(time.Now())
}

// refresh rebuilds the line if the second changed.
func (d *dateCache) refresh(now time.Time) []byte {
	sec := now.Unix()
	if v := d.v.Load(); v != nil && v.sec == sec {
		return v.line
	}
	b := now.UTC().AppendFormat([]byte("Date: "), imfFixdate)
	v := &dateLine{sec: sec, line: append(b, '\r', '\n')}
	d.v.Store(v)
	return v.line
}
