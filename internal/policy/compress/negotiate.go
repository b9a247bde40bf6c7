package compress

import "aya/internal/httpx"

// coding is a content coding aya can produce; none means the body goes out as it is.
type coding int8

const (
	none coding = iota - 1
	brotliCoding
	zstdCoding
	gzipCoding
	numCodings
)

// Algorithm names as written in config and in Content-Encoding.
const (
	Brotli = "br"
	Zstd   = "zstd"
	Gzip   = "gzip"
)

var codingNames = [numCodings]string{Brotli, Zstd, Gzip}

func (c coding) String() string {
	if c < 0 || c >= numCodings {
		return "identity"
	}
	return codingNames[c]
}

func codingOf(name string) (coding, bool) {
	for i, n := range codingNames {
		if n == name {
			return coding(i), true
		}
	}
	return none, false
}

// weights are the q-values (in thousandths) a client gave each coding, -1 when it did not
// list it.
type weights struct {
	q        [numCodings]int16
	identity int16
	star     int16
}

// negotiate picks the coding for a request from its Accept-Encoding fields: the one the
// client weighs highest among those the route offers, server preference (offer order)
// breaking ties. No Accept-Encoding, q=0 on everything offered, or an explicit identity
// weighed above every offered coding all mean none.
func negotiate(h httpx.Header, offer []coding) coding {
	var w weights
	for i := range w.q {
		w.q[i] = -1
	}
	w.identity, w.star = -1, -1
	present := false
	for i := range h {
		if httpx.EqualFold(h[i].Name, "Accept-Encoding") {
			present = true
			w.parse(h[i].Value)
		}
	}
	if !present {
		return none
	}
	best, bestQ := none, int16(0)
	for _, c := range offer {
		q := w.q[c]
		if q < 0 {
			q = max(w.star, 0)
		}
		if q > bestQ {
			best, bestQ = c, q
		}
	}
	if w.identity > bestQ {
		return none
	}
	return best
}

// parse reads one Accept-Encoding value ("br;q=1.0, gzip;q=0.8, *;q=0"). An element with a
// malformed q-value is ignored, as if the client had not sent it. A coding listed twice keeps
// its first weight.
func (w *weights) parse(s string) {
	for s != "" {
		var elem string
		i := 0
		for i < len(s) && s[i] != ',' {
			i++
		}
		elem, s = s[:i], s[min(i+1, len(s)):]
		name, params := elem, ""
		for j := 0; j < len(elem); j++ {
			if elem[j] == ';' {
				name, params = elem[:j], elem[j+1:]
				break
			}
		}
		name = trim(name)
		if name == "" {
			continue
		}
		q, ok := qvalue(params)
		if !ok {
			continue
		}
		var slot *int16
		switch {
		case httpx.EqualFold(name, Brotli):
			slot = &w.q[brotliCoding]
		case httpx.EqualFold(name, Zstd):
			slot = &w.q[zstdCoding]
		case httpx.EqualFold(name, Gzip), httpx.EqualFold(name, "x-gzip"):
			slot = &w.q[gzipCoding]
		case httpx.EqualFold(name, "identity"):
			slot = &w.identity
		case name == "*":
			slot = &w.star
		default:
			continue
		}
		if *slot < 0 {
			*slot = q
		}
	}
}

// qvalue reads the weight from an element's parameters ("q=0.5"), 1000 when there is none.
// RFC 9110 §12.4.2: "0" or "1" followed by up to three decimals.
func qvalue(params string) (int16, bool) {
	q := int16(1000)
	for params != "" {
		var p string
		i := 0
		for i < len(params) && params[i] != ';' {
			i++
		}
		p, params = trim(params[:i]), params[min(i+1, len(params)):]
		if len(p) < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=' {
			continue // another parameter: none are defined for codings, so ignore it
		}
		v := p[2:]
		if v == "" || (v[0] != '0' && v[0] != '1') {
			return 0, false
		}
		n := int(v[0]-'0') * 1000
		if len(v) > 1 {
			if v[1] != '.' || len(v) > 5 {
				return 0, false
			}
			scale := 100
			for _, c := range []byte(v[2:]) {
				if c < '0' || c > '9' {
					return 0, false
				}
				n += int(c-'0') * scale
				scale /= 10
			}
		}
		if n > 1000 {
			return 0, false
		}
		q = int16(n)
	}
	return q, true
}

func trim(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}
