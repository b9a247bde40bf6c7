package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"strings"

	"aya/internal/httpx"
)

// h2Adapter serves HTTP/2 streams (from x/net/http2, on TLS via ALPN or h2c) with an aya
// handler, translating net/http's request and response writer into aya's types. HTTP/2 is not
// the hot path the h1 engine is, so this adapter copies headers rather than sharing buffers.
type h2Adapter struct {
	listener string
	handler  httpx.Handler
}

func (a *h2Adapter) ServeHTTP(w http.ResponseWriter, hr *http.Request) {
	r := &httpx.Request{
		Method:        hr.Method,
		Target:        hr.RequestURI,
		Host:          hr.Host,
		Proto:         hr.Proto,
		ProtoMajor:    hr.ProtoMajor,
		ProtoMinor:    hr.ProtoMinor,
		ContentLength: hr.ContentLength,
		Body:          hr.Body,
		Listener:      a.listener,
		TLS:           hr.TLS,
		Header:        make(httpx.Header, 0, len(hr.Header)+1),
	}
	if hr.Body == nil || hr.Body == http.NoBody {
		r.Body = httpx.NoBody
	}
	r.Path, r.Query = hr.RequestURI, ""
	if i := strings.IndexByte(r.Path, '?'); i >= 0 {
		r.Path, r.Query = r.Path[:i], r.Path[i+1:]
	}
	if r.Path == "" || r.Path[0] != '/' {
		r.Path = hr.URL.EscapedPath()
	}
	if ap, err := netip.ParseAddrPort(hr.RemoteAddr); err == nil {
		r.RemoteAddr = ap
	}
	if la, ok := hr.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if ap, err := netip.ParseAddrPort(la.String()); err == nil {
			r.LocalAddr = ap
		}
	}
	for k, vs := range hr.Header {
		for _, v := range vs {
			r.Header = append(r.Header, httpx.Field{Name: k, Value: v})
		}
	}
	r.SetContext(hr.Context())

	aw := &h2Writer{w: w}
	a.handler.ServeHTTPX(aw, r)
	if !aw.wrote {
		aw.WriteHeader(200)
	}
	if len(hr.Trailer) > 0 {
		for k, vs := range hr.Trailer {
			for _, v := range vs {
				r.Trailer = append(r.Trailer, httpx.Field{Name: k, Value: v})
			}
		}
	}
	for _, f := range aw.trailer {
		w.Header().Add(http.TrailerPrefix+f.Name, strings.Clone(f.Value))
	}
}

// h2Writer is an httpx.ResponseWriter over net/http's HTTP/2 response writer.
type h2Writer struct {
	w       http.ResponseWriter
	hdr     httpx.Header
	wrote   bool
	trailer httpx.Header
}

func (w *h2Writer) Header() *httpx.Header { return &w.hdr }

// connectionSpecific are fields HTTP/2 forbids (RFC 9113 §8.2.2).
var connectionSpecific = [...]string{"Connection", "Keep-Alive", "Proxy-Connection", "Transfer-Encoding", "Upgrade"}

func (w *h2Writer) WriteHeader(status int) {
	if w.wrote {
		return
	}
	w.wrote = true
	h := w.w.Header()
fields:
	for _, f := range w.hdr {
		for _, c := range connectionSpecific {
			if httpx.EqualFold(f.Name, c) {
				continue fields
			}
		}
		// Clone: the values may point into a pooled upstream buffer, and the HTTP/2 writer
		// encodes (and HPACK keeps) them after the handler has returned.
		k := strings.Clone(http.CanonicalHeaderKey(f.Name))
		h[k] = append(h[k], strings.Clone(f.Value))
	}
	w.w.WriteHeader(status)
}

func (w *h2Writer) Write(p []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(200)
	}
	return w.w.Write(p)
}

func (w *h2Writer) Flush() error {
	if !w.wrote {
		w.WriteHeader(200)
	}
	return http.NewResponseController(w.w).Flush()
}

func (w *h2Writer) SetTrailer(h httpx.Header) {
	w.trailer = append(w.trailer, h...)
}
