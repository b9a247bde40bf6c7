package compress

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"aya/internal/httpx"
)

// decode undoes a Content-Encoding.
func decode(t testing.TB, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "", "identity":
		return b
	case Gzip:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case Brotli:
		r = brotli.NewReader(bytes.NewReader(b))
	case Zstd:
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("unknown encoding %q", enc)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return out
}

// decodePrefix decodes as much of a stream as is there (a flushed but unfinished body).
func decodePrefix(t testing.TB, enc string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case Gzip:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case Brotli:
		r = brotli.NewReader(bytes.NewReader(b))
	case Zstd:
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	}
	var out bytes.Buffer
	buf := make([]byte, 512)
	for {
		n, err := r.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.Bytes()
		}
	}
}

// jsonBody is about 12 KB of API-like JSON: repeated keys, varied values.
var jsonBody = func() []byte {
	var b bytes.Buffer
	b.WriteString(`{"items":[`)
	x := uint32(2463534242)
	for i := 0; b.Len() < 12<<10; i++ {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"id":` + strconv.Itoa(int(x%100000)) + `,"name":"item-` + strconv.FormatUint(uint64(x), 36) +
			`","price":` + strconv.Itoa(int(x%9999)) + `.` + strconv.Itoa(int(x%97)) + `,"in_stock":` + strconv.FormatBool(x%3 == 0) +
			`,"tags":["` + strconv.FormatUint(uint64(x>>7), 36) + `","sale"]}`)
	}
	b.WriteString(`]}`)
	return b.Bytes()
}()

type response struct {
	status int
	header httpx.Header
	chunks []string // written one by one, with a Flush after each when flush is set
	flush  bool
}

func (resp response) handler() httpx.Handler {
	return httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		h := w.Header()
		*h = append(*h, resp.header...)
		if resp.status != 0 {
			w.WriteHeader(resp.status)
		}
		for _, c := range resp.chunks {
			w.Write([]byte(c))
			if resp.flush {
				w.Flush()
			}
		}
	})
}

func TestCompress(t *testing.T) {
	big := string(jsonBody)
	small := `{"ok":true}`
	cl := func(s string) httpx.Field { return httpx.Field{Name: "Content-Length", Value: strconv.Itoa(len(s))} }
	ctJSON := httpx.Field{Name: "Content-Type", Value: "application/json; charset=utf-8"}
	tests := []struct {
		name     string
		method   string
		accept   string
		resp     response
		wantEnc  string // Content-Encoding sent; "" none
		wantVary bool
	}{
		{"gzip", "GET", "gzip", response{header: httpx.Header{ctJSON, cl(big)}, chunks: []string{big}}, Gzip, true},
		{"brotli", "GET", "br", response{header: httpx.Header{ctJSON, cl(big)}, chunks: []string{big}}, Brotli, true},
		{"zstd", "GET", "zstd", response{header: httpx.Header{ctJSON, cl(big)}, chunks: []string{big}}, Zstd, true},
		{"browser picks brotli", "GET", "gzip, deflate, br, zstd", response{header: httpx.Header{ctJSON, cl(big)}, chunks: []string{big}}, Brotli, true},
		{"no accept-encoding still varies", "GET", "", response{header: httpx.Header{ctJSON, cl(big)}, chunks: []string{big}}, "", true},
		{"small body with length", "GET", "gzip", response{header: httpx.Header{ctJSON, cl(small)}, chunks: []string{small}}, "", true},
		{"small body without length", "GET", "gzip", response{header: httpx.Header{ctJSON}, chunks: []string{small}}, "", true},
		{"big body without length", "GET", "gzip", response{header: httpx.Header{ctJSON}, chunks: []string{big[:700], big[700:]}}, Gzip, true},
		{"implicit 200 from Write", "GET", "gzip", response{header: httpx.Header{{Name: "Content-Type", Value: "text/html"}}, chunks: []string{big}}, Gzip, true},
		{"type not listed", "GET", "gzip", response{header: httpx.Header{{Name: "Content-Type", Value: "image/png"}, cl(big)}, chunks: []string{big}}, "", false},
		{"no content type", "GET", "gzip", response{header: httpx.Header{cl(big)}, chunks: []string{big}}, "", false},
		{"already encoded", "GET", "gzip", response{header: httpx.Header{ctJSON, {Name: "Content-Encoding", Value: "br"}, cl(big)}, chunks: []string{big}}, "br", false},
		{"identity encoding is not an encoding", "GET", "gzip", response{header: httpx.Header{ctJSON, {Name: "Content-Encoding", Value: "identity"}, cl(big)}, chunks: []string{big}}, Gzip, true},
		{"server-sent events", "GET", "gzip", response{header: httpx.Header{{Name: "Content-Type", Value: "text/event-stream"}}, chunks: []string{"data: 1\n\n", big}, flush: true}, "", false},
		{"HEAD", "HEAD", "gzip", response{status: 200, header: httpx.Header{ctJSON, cl(big)}}, "", true},
		{"204", "GET", "gzip", response{status: 204, header: httpx.Header{ctJSON}}, "", false},
		{"304", "GET", "gzip", response{status: 304, header: httpx.Header{ctJSON, {Name: "ETag", Value: `"v1"`}}}, "", false},
		{"206", "GET", "gzip", response{status: 206, header: httpx.Header{ctJSON, {Name: "Content-Range", Value: "bytes 0-99/200"}}, chunks: []string{big[:100]}}, "", false},
		{"no-transform", "GET", "gzip", response{header: httpx.Header{ctJSON, {Name: "Cache-Control", Value: "public, no-transform"}, cl(big)}, chunks: []string{big}}, "", false},
		{"error status compressed too", "GET", "gzip", response{status: 500, header: httpx.Header{ctJSON, cl(big)}, chunks: []string{big}}, Gzip, true},
		{"q=0 everywhere", "GET", "gzip;q=0, br;q=0, zstd;q=0", response{header: httpx.Header{ctJSON, cl(big)}, chunks: []string{big}}, "", true},
	}
	c, err := New(Options{MinSize: 1024})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &httpx.Request{Method: tt.method, Path: "/"}
			if tt.accept != "" {
				r.Header.Add("Accept-Encoding", tt.accept)
			}
			rec := &recorder{}
			c.Middleware()(tt.resp.handler()).ServeHTTPX(rec, r)
			gotEnc := rec.h.Get("Content-Encoding")
			if gotEnc != tt.wantEnc {
				t.Fatalf("Content-Encoding = %q, want %q (header %v)", gotEnc, tt.wantEnc, rec.h)
			}
			if got := hasToken(rec.h, "Vary", "Accept-Encoding"); got != tt.wantVary {
				t.Errorf("Vary: Accept-Encoding = %v, want %v", got, tt.wantVary)
			}
			want := strings.Join(tt.resp.chunks, "")
			if tt.wantEnc == "br" && tt.resp.header.Get("Content-Encoding") == "br" {
				// passed through untouched, not ours to decode
				if rec.body.String() != want {
					t.Fatal("pre-encoded body changed")
				}
				return
			}
			body := decode(t, gotEnc, rec.body.Bytes())
			if string(body) != want {
				t.Fatalf("body differs: got %d bytes, want %d", len(body), len(want))
			}
			if tt.wantEnc != "" {
				if rec.h.Has("Content-Length") {
					t.Error("Content-Length kept on a compressed body")
				}
				if rec.body.Len() >= len(want) {
					t.Errorf("compressed %d bytes into %d", len(want), rec.body.Len())
				}
			}
			wantStatus := tt.resp.status
			if wantStatus == 0 {
				wantStatus = 200
			}
			if rec.status != wantStatus {
				t.Errorf("status %d, want %d", rec.status, wantStatus)
			}
		})
	}
}

func TestCompressSmallUnknownLengthGetsLength(t *testing.T) {
	c, _ := New(Options{MinSize: 1024})
	rec := &recorder{}
	r := &httpx.Request{Method: "GET", Header: httpx.Header{{Name: "Accept-Encoding", Value: "gzip"}}}
	c.Middleware()(response{header: httpx.Header{{Name: "Content-Type", Value: "text/plain"}}, chunks: []string{"hello ", "world"}}.handler()).ServeHTTPX(rec, r)
	if rec.body.String() != "hello world" || rec.h.Get("Content-Length") != "11" || rec.h.Has("Content-Encoding") {
		t.Fatalf("got %q, header %v", rec.body.String(), rec.h)
	}
}

// With min_size 0 every body is compressed, except an empty one: there is nothing to gain.
func TestCompressEmptyBody(t *testing.T) {
	c, _ := New(Options{})
	for _, h := range []httpx.Header{
		{{Name: "Content-Type", Value: "text/plain"}, {Name: "Content-Length", Value: "0"}},
		{{Name: "Content-Type", Value: "text/plain"}},
	} {
		rec := &recorder{}
		r := &httpx.Request{Method: "GET", Header: httpx.Header{{Name: "Accept-Encoding", Value: "gzip"}}}
		c.Middleware()(response{status: 200, header: h}.handler()).ServeHTTPX(rec, r)
		if declared := h.Has("Content-Length"); declared && (rec.h.Has("Content-Encoding") || rec.body.Len() > 0) {
			t.Errorf("empty body with length: header %v, %d bytes", rec.h, rec.body.Len())
		}
		if got := decode(t, rec.h.Get("Content-Encoding"), rec.body.Bytes()); len(got) != 0 {
			t.Errorf("empty body decodes to %q", got)
		}
	}
}

func TestCompressHeaders(t *testing.T) {
	c, _ := New(Options{MinSize: 10})
	rec := &recorder{}
	r := &httpx.Request{Method: "GET", Header: httpx.Header{{Name: "Accept-Encoding", Value: "zstd"}}}
	h := response{header: httpx.Header{
		{Name: "Content-Type", Value: "text/html"},
		{Name: "Vary", Value: "Origin"},
		{Name: "ETag", Value: `"abc"`},
		{Name: "Accept-Ranges", Value: "bytes"},
		{Name: "Content-Length", Value: strconv.Itoa(len(jsonBody))},
	}, chunks: []string{string(jsonBody)}}.handler()
	c.Middleware()(h).ServeHTTPX(rec, r)
	if got := rec.h.Get("ETag"); got != `W/"abc"` {
		t.Errorf("ETag = %q, want a weak one", got)
	}
	if rec.h.Count("Vary") != 2 || rec.h.Get("Vary") != "Origin" {
		t.Errorf("Vary clobbered: %v", rec.h)
	}
	if rec.h.Has("Accept-Ranges") {
		t.Error("Accept-Ranges kept: ranges of the compressed body are not ranges of the upstream's")
	}

	// A weak ETag stays as it is, and an existing Vary: Accept-Encoding is not repeated.
	rec = &recorder{}
	h = response{header: httpx.Header{
		{Name: "Content-Type", Value: "text/html"},
		{Name: "Vary", Value: "accept-encoding, Origin"},
		{Name: "ETag", Value: `W/"abc"`},
	}, chunks: []string{string(jsonBody)}}.handler()
	c.Middleware()(h).ServeHTTPX(rec, r)
	if rec.h.Get("ETag") != `W/"abc"` || rec.h.Count("Vary") != 1 {
		t.Errorf("header %v", rec.h)
	}
}

// A stream's flushes reach the client: after each Flush, what was written so far decodes to
// what the handler wrote so far.
func TestCompressStreamsFlushes(t *testing.T) {
	for _, enc := range []string{Gzip, Brotli, Zstd} {
		t.Run(enc, func(t *testing.T) {
			c, _ := New(Options{MinSize: 1024, Algorithms: []string{enc}})
			rec := &recorder{}
			r := &httpx.Request{Method: "GET", Header: httpx.Header{{Name: "Accept-Encoding", Value: enc}}}
			var seen []string
			h := httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
				w.Header().Set("Content-Type", "application/x-ndjson")
				w.WriteHeader(200)
				var sent string
				for i := range 4 {
					line := `{"event":` + strconv.Itoa(i) + `}` + "\n"
					sent += line
					w.Write([]byte(line))
					w.Flush()
					seen = append(seen, string(decodePrefix(t, enc, rec.body.Bytes())))
					if seen[i] != sent {
						t.Fatalf("after flush %d the client can decode %q, want %q", i, seen[i], sent)
					}
				}
			})
			c.Middleware()(h).ServeHTTPX(rec, r)
			if rec.h.Get("Content-Encoding") != enc {
				t.Fatalf("a flushed stream was not compressed: %v", rec.h)
			}
			if len(rec.flushes) != 4 {
				t.Errorf("%d flushes reached the client, want 4", len(rec.flushes))
			}
			if got := decode(t, enc, rec.body.Bytes()); !strings.HasSuffix(string(got), `{"event":3}`+"\n") {
				t.Errorf("whole body %q", got)
			}
		})
	}
}

func TestCompressSSEFlushesPassThrough(t *testing.T) {
	c, _ := New(Options{MinSize: 1024})
	rec := &recorder{}
	r := &httpx.Request{Method: "GET", Header: httpx.Header{{Name: "Accept-Encoding", Value: "gzip"}}}
	h := httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		for i := range 3 {
			w.Write([]byte("data: " + strconv.Itoa(i) + "\n\n"))
			w.Flush()
			if !strings.HasSuffix(rec.body.String(), "data: "+strconv.Itoa(i)+"\n\n") {
				t.Fatalf("event %d held back", i)
			}
		}
	})
	c.Middleware()(h).ServeHTTPX(rec, r)
	if rec.h.Has("Content-Encoding") {
		t.Fatal("SSE compressed")
	}
}

func TestCompressTrailersAndUpgrade(t *testing.T) {
	c, _ := New(Options{})
	rec := &recorder{}
	r := &httpx.Request{Method: "POST", Header: httpx.Header{{Name: "Accept-Encoding", Value: "gzip"}}}
	h := httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		w.Header().Set("Content-Type", "application/grpc")
		w.Write([]byte("frame"))
		w.(httpx.TrailerWriter).SetTrailer(httpx.Header{{Name: "Grpc-Status", Value: "0"}})
	})
	c.Middleware()(h).ServeHTTPX(rec, r)
	if rec.trailer.Get("Grpc-Status") != "0" || rec.body.String() != "frame" {
		t.Fatalf("trailer %v body %q", rec.trailer, rec.body.String())
	}

	var got httpx.ResponseWriter
	up := &httpx.Request{Method: "GET", Header: httpx.Header{{Name: "Accept-Encoding", Value: "gzip"}, {Name: "Upgrade", Value: "websocket"}}}
	c.Middleware()(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) { got = w })).ServeHTTPX(rec, up)
	if got != httpx.ResponseWriter(rec) {
		t.Fatal("an upgrade request got a wrapped writer (it could not hijack)")
	}
}

func TestNewErrors(t *testing.T) {
	bad := []Options{
		{Algorithms: []string{"deflate"}},
		{Algorithms: []string{"gzip", "gzip"}},
		{Types: []string{"json"}},
		{Types: []string{"*/json"}},
		{Types: []string{"application/js*"}},
		{MinSize: -1},
		{MinSize: MaxMinSize + 1},
		{Level: 9},
	}
	for _, o := range bad {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) accepted", o)
		}
	}
}

// Every algorithm at every level makes a working encoder (the pools create them on demand,
// where an error could no longer be reported).
func TestEveryLevel(t *testing.T) {
	for l := LevelFastest; l <= LevelBest; l++ {
		for _, enc := range []string{Brotli, Zstd, Gzip} {
			c, err := New(Options{Algorithms: []string{enc}, Level: l})
			if err != nil {
				t.Fatal(err)
			}
			rec := &recorder{}
			r := &httpx.Request{Method: "GET", Header: httpx.Header{{Name: "Accept-Encoding", Value: enc}}}
			c.Middleware()(response{header: httpx.Header{{Name: "Content-Type", Value: "text/plain"}}, chunks: []string{string(jsonBody)}}.handler()).ServeHTTPX(rec, r)
			if got := decode(t, rec.h.Get("Content-Encoding"), rec.body.Bytes()); !bytes.Equal(got, jsonBody) || rec.h.Get("Content-Encoding") != enc {
				t.Errorf("%s at level %d: %v, %d bytes", enc, l, rec.h, len(got))
			}
		}
	}
}

func TestTypeSet(t *testing.T) {
	s, err := newTypeSet([]string{"text/*", "application/json", "application/*+xml", "IMAGE/SVG+XML"})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]bool{
		"text/html":                       true,
		"text/plain; charset=utf-8":       true,
		"Text/CSS":                        true,
		"text/event-stream":               false,
		"text/event-stream; charset=utf8": false,
		"application/json":                true,
		" application/json ;charset=utf8": true,
		"application/jsonx":               false,
		"application/atom+xml":            true,
		"application/+xml":                false,
		"image/svg+xml":                   true,
		"image/png":                       false,
		"":                                false,
		"text/":                           false,
	}
	for ct, want := range tests {
		if got := s.match(ct); got != want {
			t.Errorf("match(%q) = %v, want %v", ct, got, want)
		}
	}
}

func BenchmarkCompress10KBJSON(b *testing.B) {
	body := jsonBody[:10240]
	for _, enc := range []string{Brotli, Zstd, Gzip} {
		b.Run(enc, func(b *testing.B) {
			c, err := New(Options{MinSize: 1024, Algorithms: []string{enc}})
			if err != nil {
				b.Fatal(err)
			}
			h := c.Middleware()(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
				hh := w.Header()
				*hh = append(*hh, httpx.Field{Name: "Content-Type", Value: "application/json"}, httpx.Field{Name: "Content-Length", Value: "10240"})
				w.WriteHeader(200)
				w.Write(body)
			}))
			r := &httpx.Request{Method: "GET", Header: httpx.Header{{Name: "Accept-Encoding", Value: "br, zstd, gzip"}}}
			rec := &recorder{h: make(httpx.Header, 0, 8)}
			rec.body.Grow(16 << 10)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				rec.reset()
				h.ServeHTTPX(rec, r)
			}
			b.ReportMetric(float64(rec.body.Len()), "out-bytes")
		})
	}
}

// BenchmarkPassThrough is the cost the policy adds to a response it leaves alone.
func BenchmarkPassThrough(b *testing.B) {
	c, _ := New(Options{MinSize: 1024})
	body := []byte("hello")
	h := c.Middleware()(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		hh := w.Header()
		*hh = append(*hh, httpx.Field{Name: "Content-Type", Value: "image/png"}, httpx.Field{Name: "Content-Length", Value: "5"})
		w.WriteHeader(200)
		w.Write(body)
	}))
	r := &httpx.Request{Method: "GET", Header: httpx.Header{{Name: "Accept-Encoding", Value: "gzip, br"}}}
	rec := &recorder{h: make(httpx.Header, 0, 8)}
	b.ReportAllocs()
	for b.Loop() {
		rec.reset()
		h.ServeHTTPX(rec, r)
	}
}
