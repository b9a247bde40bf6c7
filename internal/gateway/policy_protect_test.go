package gateway

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/klauspost/compress/gzip"

	"aya/internal/config"
	"aya/internal/httpx"
	"aya/internal/policy"
)

type protectRecorder struct {
	h      httpx.Header
	status int
	body   bytes.Buffer
}

func (w *protectRecorder) Header() *httpx.Header { return &w.h }
func (w *protectRecorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *protectRecorder) Write(p []byte) (int, error) { w.WriteHeader(200); return w.body.Write(p) }
func (w *protectRecorder) Flush() error                { return nil }

func TestProtectPolicies(t *testing.T) {
	var hits atomic.Int64
	page := strings.Repeat(`{"name":"aya","kind":"gateway"},`, 100)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(page))
	}))
	defer backend.Close()
	dir := t.TempDir()
	text := `listeners:
  - name: web
    address: "127.0.0.1:0"
    trusted_proxies: [127.0.0.1]
    policies:
      - ip_filter: {deny: [192.0.2.0/24]}
upstreams: [{name: app, targets: [{url: "` + backend.URL + `"}]}]
routes:
  - name: api
    match: {path: "/*"}
    policies:
      - cors: {allow_origins: ["https://app.example"], allow_credentials: true}
      - request_limits: {max_body: 16, max_header_count: 8}
      - compress: {}
    upstream: app
`
	cfg, err := config.Parse(filepath.Join(dir, "aya.yaml"), []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		s := g.snap.Load()
		s.closePolicies()
		s.obs.closeNotIn(nil)
	}()

	req := func(method, peer string, body string, hdr ...string) *httpx.Request {
		r := &httpx.Request{Method: method, Target: "/x", Path: "/x", Host: "example.com", Proto: "HTTP/1.1",
			ProtoMajor: 1, ProtoMinor: 1, Listener: "web", Body: strings.NewReader(body), ContentLength: int64(len(body))}
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Add(hdr[i], hdr[i+1])
		}
		r.RemoteAddr = netip.AddrPortFrom(netip.MustParseAddr(peer), 40000)
		return r
	}
	for _, tc := range []struct {
		name     string
		r        *httpx.Request
		status   int
		upstream bool
		check    func(t *testing.T, w *protectRecorder)
	}{
		{"compressed and decorated", req("GET", "10.0.0.1", "", "Accept-Encoding", "gzip", "Origin", "https://app.example"), 200, true,
			func(t *testing.T, w *protectRecorder) {
				if w.h.Get("Content-Encoding") != "gzip" || w.h.Get("Access-Control-Allow-Origin") != "https://app.example" {
					t.Fatalf("header %v", w.h)
				}
				zr, err := gzip.NewReader(&w.body)
				if err != nil {
					t.Fatal(err)
				}
				if b, _ := io.ReadAll(zr); string(b) != page {
					t.Error("body differs after decoding")
				}
			}},
		{"listener default denies the forwarded client", req("GET", "127.0.0.1", "", "X-Forwarded-For", "192.0.2.7"), 403, false, nil},
		{"forwarded header from an untrusted peer is not believed", req("GET", "10.0.0.2", "", "X-Forwarded-For", "192.0.2.7"), 200, true, nil},
		{"preflight answered by aya", req("OPTIONS", "10.0.0.1", "", "Origin", "https://app.example", "Access-Control-Request-Method", "PUT"), 204, false,
			func(t *testing.T, w *protectRecorder) {
				if w.h.Get("Access-Control-Allow-Credentials") != "true" {
					t.Errorf("header %v", w.h)
				}
			}},
		{"body over max_body", req("POST", "10.0.0.1", strings.Repeat("x", 17)), 413, false, nil},
		{"too many header fields", req("GET", "10.0.0.1", "", "A", "1", "B", "2", "C", "3", "D", "4", "E", "5", "F", "6", "G", "7", "H", "8", "I", "9"), 431, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := hits.Load()
			w := &protectRecorder{}
			g.disp.ServeHTTPX(w, tc.r)
			if w.status != tc.status {
				t.Fatalf("status %d, want %d (%s)", w.status, tc.status, w.body.String())
			}
			if reached := hits.Load() > before; reached != tc.upstream {
				t.Errorf("upstream reached: %v, want %v", reached, tc.upstream)
			}
			if tc.check != nil {
				tc.check(t, w)
			}
		})
	}
}

// BenchmarkProtectChain is what ip_filter, cors, request_limits and compress add to a request
// they let through and whose small answer they leave uncompressed.
func BenchmarkProtectChain(b *testing.B) {
	pb := &policyBuild{}
	ip, _ := pb.ipFilter(&config.IPFilterPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}})
	co, _ := pb.cors(&config.CORSPolicy{AllowOrigins: []string{"https://app.example"}})
	li, _ := pb.requestLimits(&config.RequestLimitsPolicy{MaxBody: 1 << 20, MaxHeaderCount: 50, MaxHeaderBytes: 8 << 10, MaxQueryLength: 2 << 10})
	cp, err := pb.compress(&config.CompressPolicy{MinSize: 1024, Level: "default"})
	if err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"ok":true}`)
	h := policy.Chain(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		*w.Header() = append(*w.Header(), httpx.Field{Name: "Content-Type", Value: "application/json"}, httpx.Field{Name: "Content-Length", Value: "11"})
		w.WriteHeader(200)
		w.Write(body)
	}), ip, co, li, cp)
	r := &httpx.Request{Method: "GET", Path: "/x", ClientIP: netip.MustParseAddr("10.1.2.3"), Body: httpx.NoBody, Header: httpx.Header{
		{Name: "Host", Value: "api.example"}, {Name: "Origin", Value: "https://app.example"},
		{Name: "Accept-Encoding", Value: "gzip, deflate, br, zstd"}, {Name: "User-Agent", Value: "bench"},
	}}
	w := &protectRecorder{h: make(httpx.Header, 0, 8)}
	b.ReportAllocs()
	for b.Loop() {
		w.h, w.status = w.h[:0], 0
		w.body.Reset()
		h.ServeHTTPX(w, r)
	}
}
