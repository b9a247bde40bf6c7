package test

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// protectBackend serves what the protect example's routes need: big and small JSON, a JSON
// body of unknown length, SSE events released one at a time by the test, and an echo of the
// request body's size.
type protectBackend struct {
	addr    string
	release chan struct{} // each receive lets /events send its next event
	page    []byte
}

func startProtectBackend(t *testing.T) *protectBackend {
	t.Helper()
	var page bytes.Buffer
	page.WriteString("[")
	for i := 0; page.Len() < 20<<10; i++ {
		fmt.Fprintf(&page, `{"id":%d,"name":"item-%d","price":%d.%02d},`, i, i*7919%1000, i*31%997, i%100)
	}
	page.WriteString(`{}]`)
	b := &protectBackend{release: make(chan struct{}), page: page.Bytes()}
	mux := http.NewServeMux()
	mux.HandleFunc("/api/big", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(b.page)))
		w.Header().Set("ETag", `"v1"`)
		w.Write(b.page)
	})
	mux.HandleFunc("/api/chunked", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		for i := 0; i < len(b.page); i += 4096 {
			w.Write(b.page[i:min(i+4096, len(b.page))])
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/api/small", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"ok":true}`))
	})
	mux.HandleFunc("/api/echo", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("X-Total-Count", "1")
		fmt.Fprintf(w, "%d", n)
	})
	mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("admin")) })
	mux.HandleFunc("/events", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for i := range 3 {
			select {
			case <-b.release:
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Second):
				return
			}
			// Padding makes each event larger than min_size, so only the SSE rule keeps it plain.
			fmt.Fprintf(w, "data: event %d %s\n\n", i, strings.Repeat("x", 2000))
			w.(http.Flusher).Flush()
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	b.addr = ln.Addr().String()
	return b
}

// startProtectExample runs examples/policies-protect.yaml with its addresses moved to free
// ports and its upstream pointed at the test backend.
func startProtectExample(t *testing.T, backend string) (web string, p *proc) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "policies-protect.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	web = freePort(t)
	cfg := string(data)
	for old, repl := range map[string]string{"127.0.0.1:8080": web, "127.0.0.1:9001": backend, "127.0.0.1:9901": "{{ADMIN}}"} {
		if !strings.Contains(cfg, old) {
			t.Fatalf("example lost %s", old)
		}
		cfg = strings.ReplaceAll(cfg, old, repl)
	}
	return web, startAya(t, cfg)
}

func decodeBody(t *testing.T, enc string, body []byte) []byte {
	t.Helper()
	var r io.Reader
	switch enc {
	case "":
		return body
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		r = zr
	case "br":
		r = brotli.NewReader(bytes.NewReader(body))
	case "zstd":
		zr, err := zstd.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer zr.Close()
		r = zr
	default:
		t.Fatalf("unexpected Content-Encoding %q", enc)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode %s: %v", enc, err)
	}
	return out
}

func TestPolicyProtect(t *testing.T) {
	b := startProtectBackend(t)
	web, _ := startProtectExample(t, b.addr)
	base := "http://" + web
	// DisableCompression: the test sets Accept-Encoding itself and decodes by hand.
	c := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{DisableCompression: true}}
	do := func(method, path string, body io.Reader, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, body)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, data
	}

	t.Run("compression negotiation", func(t *testing.T) {
		for _, tc := range []struct{ accept, want string }{
			{"br", "br"},
			{"zstd", "zstd"},
			{"gzip", "gzip"},
			{"gzip, deflate, br, zstd", "br"},
			{"br;q=0.1, zstd;q=0.5, gzip;q=0.9", "gzip"},
			{"br;q=0, zstd;q=0, *", "gzip"},
			{"identity", ""},
			{"br;q=0, zstd;q=0, gzip;q=0", ""},
		} {
			for _, path := range []string{"/api/big", "/api/chunked"} {
				resp, body := do("GET", path, nil, "Accept-Encoding", tc.accept)
				enc := resp.Header.Get("Content-Encoding")
				if resp.StatusCode != 200 || enc != tc.want {
					t.Fatalf("%s with Accept-Encoding %q: status %d, Content-Encoding %q, want %q", path, tc.accept, resp.StatusCode, enc, tc.want)
				}
				if got := decodeBody(t, enc, body); !bytes.Equal(got, b.page) {
					t.Fatalf("%s %q: decoded body differs (%d bytes, want %d)", path, tc.accept, len(got), len(b.page))
				}
				if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Accept-Encoding") {
					t.Errorf("%s %q: no Vary: Accept-Encoding", path, tc.accept)
				}
				if enc != "" {
					if resp.ContentLength != -1 || len(body) >= len(b.page) {
						t.Errorf("%s %q: length %d, %d bytes on the wire", path, tc.accept, resp.ContentLength, len(body))
					}
					if path == "/api/big" && resp.Header.Get("ETag") != `W/"v1"` {
						t.Errorf("ETag %q, want the weak form", resp.Header.Get("ETag"))
					}
				}
			}
		}
	})

	t.Run("small body not compressed", func(t *testing.T) {
		resp, body := do("GET", "/api/small", nil, "Accept-Encoding", "gzip, br")
		if resp.Header.Get("Content-Encoding") != "" || string(body) != `{"ok":true}` {
			t.Fatalf("Content-Encoding %q body %q", resp.Header.Get("Content-Encoding"), body)
		}
	})

	t.Run("HEAD not compressed", func(t *testing.T) {
		resp, _ := do("HEAD", "/api/big", nil, "Accept-Encoding", "gzip")
		if resp.Header.Get("Content-Encoding") != "" || resp.ContentLength != int64(len(b.page)) {
			t.Fatalf("Content-Encoding %q length %d", resp.Header.Get("Content-Encoding"), resp.ContentLength)
		}
	})

	t.Run("SSE streams uncompressed", func(t *testing.T) {
		req, _ := http.NewRequest("GET", base+"/events", nil)
		req.Header.Set("Accept-Encoding", "gzip, br, zstd")
		// The proxy sends the response head with the first body bytes, so the first event is
		// released before the head is awaited.
		go func() {
			select {
			case b.release <- struct{}{}:
			case <-time.After(15 * time.Second):
			}
		}()
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Content-Encoding") != "" {
			t.Fatalf("SSE compressed: %q", resp.Header.Get("Content-Encoding"))
		}
		br := bufio.NewReader(resp.Body)
		for i := range 3 {
			// The backend sends event i only when told; reading it back before releasing the
			// next one proves nothing holds the stream back.
			if i > 0 {
				b.release <- struct{}{}
			}
			line, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			if !strings.HasPrefix(line, fmt.Sprintf("data: event %d ", i)) {
				t.Fatalf("event %d: got %.40q", i, line)
			}
			if blank, _ := br.ReadString('\n'); blank != "\n" {
				t.Fatalf("event %d not terminated: %q", i, blank)
			}
		}
	})

	t.Run("CORS preflight", func(t *testing.T) {
		resp, _ := do("OPTIONS", "/api/echo", nil, "Origin", "https://app.example",
			"Access-Control-Request-Method", "DELETE", "Access-Control-Request-Headers", "content-type, x-token")
		h := resp.Header
		if resp.StatusCode != 204 || h.Get("Access-Control-Allow-Origin") != "https://app.example" ||
			h.Get("Access-Control-Allow-Credentials") != "true" || h.Get("Access-Control-Allow-Methods") != "GET, POST, DELETE" ||
			h.Get("Access-Control-Allow-Headers") != "content-type, x-token" || h.Get("Access-Control-Max-Age") != "3600" {
			t.Fatalf("preflight: %d %v", resp.StatusCode, h)
		}
		resp, _ = do("OPTIONS", "/api/echo", nil, "Origin", "https://evil.test", "Access-Control-Request-Method", "DELETE")
		if resp.StatusCode != 204 || resp.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("refused preflight: %d %v", resp.StatusCode, resp.Header)
		}
	})

	t.Run("CORS simple requests", func(t *testing.T) {
		for _, tc := range []struct{ origin, want string }{
			{"https://app.example", "https://app.example"},
			{"https://shop.example.com", "https://shop.example.com"},
			{"https://evil.test", ""},
			{"", ""},
		} {
			var hdr []string
			if tc.origin != "" {
				hdr = []string{"Origin", tc.origin}
			}
			resp, body := do("GET", "/api/echo", nil, hdr...)
			if resp.StatusCode != 200 || string(body) != "0" {
				t.Fatalf("origin %q: %d %q", tc.origin, resp.StatusCode, body)
			}
			if got := resp.Header.Get("Access-Control-Allow-Origin"); got != tc.want {
				t.Errorf("origin %q: Access-Control-Allow-Origin %q, want %q", tc.origin, got, tc.want)
			}
			if tc.want != "" && resp.Header.Get("Access-Control-Expose-Headers") != "X-Total-Count" {
				t.Errorf("origin %q: expose headers %q", tc.origin, resp.Header.Get("Access-Control-Expose-Headers"))
			}
			if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
				t.Errorf("origin %q: no Vary: Origin", tc.origin)
			}
		}
	})

	t.Run("ip_filter with a trusted proxy", func(t *testing.T) {
		for _, tc := range []struct {
			xff  string
			want int
		}{
			{"10.1.2.3", 200},
			{"203.0.113.9, 10.1.2.3", 200}, // the rightmost untrusted address is the client
			{"203.0.113.9", 403},
			{"10.66.1.1", 403},
			{"", 403}, // the test itself, from 127.0.0.1
		} {
			var hdr []string
			if tc.xff != "" {
				hdr = []string{"X-Forwarded-For", tc.xff}
			}
			resp, body := do("GET", "/admin/stats", nil, hdr...)
			if resp.StatusCode != tc.want {
				t.Errorf("X-Forwarded-For %q: status %d, want %d (%s)", tc.xff, resp.StatusCode, tc.want, body)
			}
			if tc.want == 403 && (resp.Header.Get("Content-Type") != "application/json" || !bytes.Contains(body, []byte(`"code":403`))) {
				t.Errorf("403 is not aya's JSON error: %s", body)
			}
		}
	})

	t.Run("request limits", func(t *testing.T) {
		resp, body := do("POST", "/api/echo", bytes.NewReader(make([]byte, 64<<10)))
		if resp.StatusCode != 200 || string(body) != strconv.Itoa(64<<10) {
			t.Fatalf("body at the limit: %d %s", resp.StatusCode, body)
		}
		resp, body = do("POST", "/api/echo", bytes.NewReader(make([]byte, 64<<10+1)))
		if resp.StatusCode != 413 || !bytes.Contains(body, []byte(`"code":413`)) {
			t.Fatalf("declared body over the limit: %d %s", resp.StatusCode, body)
		}
		// A chunked body has no length to refuse up front: it is counted as it streams.
		resp, body = do("POST", "/api/echo", io.MultiReader(bytes.NewReader(make([]byte, 100<<10))))
		if resp.StatusCode != 413 {
			t.Fatalf("chunked body over the limit: %d %s", resp.StatusCode, body)
		}
		var many []string
		for i := range 40 {
			many = append(many, fmt.Sprintf("X-H%d", i), "v")
		}
		resp, body = do("GET", "/api/echo", nil, many...)
		if resp.StatusCode != 431 || !bytes.Contains(body, []byte(`"code":431`)) {
			t.Fatalf("too many header fields: %d %s", resp.StatusCode, body)
		}
		resp, _ = do("GET", "/api/echo?q="+strings.Repeat("a", 3000), nil)
		if resp.StatusCode != 414 {
			t.Fatalf("long query: %d", resp.StatusCode)
		}
	})
}
