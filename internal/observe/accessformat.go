package observe

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// Access log line formats. Both are written by hand into a reused buffer: slog's JSON handler
// costs a microsecond and several allocations per line, this costs a few hundred nanoseconds
// and none, and the JSON line is the one slog.NewJSONHandler would write for the same fields
// (a test holds it to that).
const (
	FormatJSON   = "json"
	FormatCommon = "common"
)

// appendJSON writes r as one JSON object and a newline. Empty consumer, target and error are
// left out.
func appendJSON(b []byte, r *Record) []byte {
	b = append(b, `{"time":"`...)
	b = appendTime(b, r.Start)
	b = append(b, `","level":"INFO","msg":"access","request_id":`...)
	b = appendJSONString(b, r.ID)
	b = append(b, `,"listener":`...)
	b = appendJSONString(b, r.Listener)
	b = append(b, `,"route":`...)
	b = appendJSONString(b, r.Route)
	b = append(b, `,"upstream":`...)
	b = appendJSONString(b, r.Upstream)
	if r.Target != "" {
		b = append(b, `,"target":`...)
		b = appendJSONString(b, r.Target)
	}
	if r.Consumer != "" {
		b = append(b, `,"consumer":`...)
		b = appendJSONString(b, r.Consumer)
	}
	b = append(b, `,"method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"host":`...)
	b = appendJSONString(b, r.Host)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, r.Path)
	b = append(b, `,"proto":`...)
	b = appendJSONString(b, r.Proto)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"bytes_in":`...)
	b = strconv.AppendInt(b, r.BytesIn, 10)
	b = append(b, `,"bytes_out":`...)
	b = strconv.AppendInt(b, r.BytesOut, 10)
	b = append(b, `,"duration_ms":`...)
	b = appendMillis(b, r.Duration)
	b = append(b, `,"upstream_ms":`...)
	b = appendMillis(b, r.UpstreamTime)
	b = append(b, `,"ttfb_ms":`...)
	b = appendMillis(b, r.TTFB)
	b = append(b, `,"client_ip":"`...)
	if r.ClientIP.IsValid() {
		b = r.ClientIP.AppendTo(b)
	}
	b = append(b, `","user_agent":`...)
	b = appendJSONString(b, r.UserAgent)
	b = append(b, `,"retries":`...)
	b = strconv.AppendInt(b, int64(r.Retries), 10)
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = appendJSONString(b, r.Error)
	}
	return append(b, "}\n"...)
}

// appendMillis writes d in milliseconds with microsecond precision, in the shortest form
// ("1.5", "12"): the digits strconv.AppendFloat(float64(µs)/1000, 'f', -1) would write,
// without the float formatting.
func appendMillis(b []byte, d time.Duration) []byte {
	us := d.Microseconds()
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	if frac == 0 {
		return b
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}

// appendTime writes t as time.RFC3339Nano does (trailing zeros of the fraction dropped, "Z"
// for UTC), from t's calendar fields: a third of AppendFormat's cost.
func appendTime(b []byte, t time.Time) []byte {
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano)
	}
	hour, minute, sec := t.Clock()
	b = append4(b, year)
	b = append(b, '-')
	b = append2(b, int(month))
	b = append(b, '-')
	b = append2(b, day)
	b = append(b, 'T')
	b = append2(b, hour)
	b = append(b, ':')
	b = append2(b, minute)
	b = append(b, ':')
	b = append2(b, sec)
	if ns := t.Nanosecond(); ns != 0 {
		var digits [9]byte
		for i := 8; i >= 0; i-- {
			digits[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 9
		for digits[n-1] == '0' {
			n--
		}
		b = append(b, '.')
		b = append(b, digits[:n]...)
	}
	_, off := t.Zone()
	if off == 0 {
		return append(b, 'Z')
	}
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = append(b, sign)
	b = append2(b, off/3600)
	b = append(b, ':')
	return append2(b, off/60%60)
}

func append2(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }

func append4(b []byte, n int) []byte {
	return append(b, byte('0'+n/1000), byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
}

const hexDigits = "0123456789abcdef"

// jsonSafe marks the bytes a JSON string holds as they are: printable ASCII but '"' and '\\'.
var jsonSafe = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// appendJSONString writes s quoted the way slog's JSON handler does: no HTML escaping,
// control characters as \n, \r, \t or \u00XX, invalid UTF-8 as \ufffd, U+2028 and U+2029
// escaped.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if jsonSafe[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendCommon writes r in the Common Log Format extended the way the combined format is
// (quoted user agent), followed by aya's fields as key=value pairs:
//
//	10.0.0.7 - alice [25/Nov/2026:23:41:38 +0000] "GET /v1/users HTTP/1.1" 200 512 "curl/8.5.0" request_id=… route=api upstream=users target=http://10.0.0.1:9000 duration=0.001234 upstream_time=0.001100 ttfb=0.000950 retries=0 bytes_in=0
//
// Times are seconds. Unknown values are "-", as in the original format.
func appendCommon(b []byte, r *Record) []byte {
	if r.ClientIP.IsValid() {
		b = r.ClientIP.AppendTo(b)
	} else {
		b = append(b, '-')
	}
	b = append(b, " - "...)
	b = appendToken(b, r.Consumer)
	b = append(b, " ["...)
	b = r.Start.AppendFormat(b, "02/Jan/2006:15:04:05 -0700")
	b = append(b, `] "`...)
	b = appendEscaped(b, r.Method)
	b = append(b, ' ')
	b = appendEscaped(b, r.Path)
	b = append(b, ' ')
	b = appendEscaped(b, r.Proto)
	b = append(b, `" `...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, ' ')
	if r.BytesOut > 0 {
		b = strconv.AppendInt(b, r.BytesOut, 10)
	} else {
		b = append(b, '-')
	}
	b = append(b, ` "`...)
	b = appendEscaped(b, r.UserAgent)
	b = append(b, `" request_id=`...)
	b = appendToken(b, r.ID)
	b = append(b, " host="...)
	b = appendToken(b, r.Host)
	b = append(b, " route="...)
	b = appendToken(b, r.Route)
	b = append(b, " upstream="...)
	b = appendToken(b, r.Upstream)
	b = append(b, " target="...)
	b = appendToken(b, r.Target)
	b = append(b, " duration="...)
	b = strconv.AppendFloat(b, r.Duration.Seconds(), 'f', 6, 64)
	b = append(b, " upstream_time="...)
	b = strconv.AppendFloat(b, r.UpstreamTime.Seconds(), 'f', 6, 64)
	b = append(b, " ttfb="...)
	b = strconv.AppendFloat(b, r.TTFB.Seconds(), 'f', 6, 64)
	b = append(b, " retries="...)
	b = strconv.AppendInt(b, int64(r.Retries), 10)
	b = append(b, " bytes_in="...)
	b = strconv.AppendInt(b, r.BytesIn, 10)
	if r.Error != "" {
		b = append(b, ` error="`...)
		b = appendEscaped(b, r.Error)
		b = append(b, '"')
	}
	return append(b, '\n')
}

// appendToken writes an unquoted value: "-" when empty, and any byte that would split the
// line into more fields (space, quote, control, non-ASCII) escaped as \xHH, as nginx does.
func appendToken(b []byte, s string) []byte {
	if s == "" {
		return append(b, '-')
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xF])
			continue
		}
		b = append(b, c)
	}
	return b
}

// appendEscaped writes a value that goes between double quotes.
func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < ' ' || c >= 0x7f || c == '"' || c == '\\' {
			b = append(b, '\\', 'x', hexDigits[c>>4], hexDigits[c&0xF])
			continue
		}
		b = append(b, c)
	}
	return b
}
