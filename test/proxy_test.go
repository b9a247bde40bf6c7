package test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"aya/internal/demo"
)

// backends starts n echo backends named b1..bn and returns their addresses.
func backends(t *testing.T, n int, opts ...func(*demo.EchoOptions)) []string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	addrs := make([]string, n)
	for i := range addrs {
		o := demo.EchoOptions{Name: fmt.Sprintf("b%d", i+1), Seed: uint64(i + 1)}
		for _, f := range opts {
			f(&o)
		}
		a, err := demo.Start(ctx, "127.0.0.1:0", demo.NewEcho(o))
		if err != nil {
			t.Fatal(err)
		}
		addrs[i] = a.String()
	}
	return addrs
}

type echo struct {
	Backend   string              `json:"backend"`
	Method    string              `json:"method"`
	Path      string              `json:"path"`
	Query     string              `json:"query"`
	Host      string              `json:"host"`
	Headers   map[string][]string `json:"headers"`
	BodyBytes int64               `json:"body_bytes"`
}

func getEcho(t *testing.T, c *http.Client, req *http.Request) (*http.Response, echo) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e echo
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 {
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("decode %q: %v", body, err)
		}
	}
	return resp, e
}

func mustReq(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRoutingAndHeaderRules(t *testing.T) {
	b := backends(t, 3)
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams:
  - {name: one, targets: [{url: "http://%s"}]}
  - {name: two, targets: [{url: "http://%s"}]}
  - {name: three, targets: [{url: "http://%s"}]}
routes:
  - name: canary
    match: {host: "*.example.com", path: "/api/*", headers: {x-env: canary}}
    upstream: three
  - name: api
    match: {host: "*.example.com", path: "/api/*"}
    request_headers: {set: {X-Env: prod}, add: {X-Added: "1"}, remove: [X-Debug]}
    response_headers: {set: {X-Served-By: aya}}
    upstream: one
  - name: user
    match: {path: "/users/{id}", methods: [GET]}
    upstream: two
  - name: exact
    match: {path: "/exact", query: {v: "2"}}
    upstream: three
  - name: regex
    match: {path_regex: "^/v[0-9]+/items$"}
    upstream: two
  - name: strip
    match: {path: "/strip/*"}
    strip_prefix: /strip
    upstream: one
  - name: keep
    match: {path: "/keep/*"}
    preserve_host: true
    upstream: one
admin: {address: "{{ADMIN}}"}
`, web, b[0], b[1], b[2]))
	_ = p
	c := client()
	cases := []struct {
		name, method, host, path string
		hdr                      map[string]string
		wantStatus               int
		wantBackend, wantPath    string
	}{
		{"wildcard host prefix", "GET", "a.example.com", "/api/x/y", nil, 200, "b1", "/api/x/y"},
		{"deep subdomain", "GET", "a.b.example.com", "/api", nil, 200, "b1", "/api"},
		{"header predicate wins", "GET", "a.example.com", "/api/x", map[string]string{"X-Env": "canary"}, 200, "b3", "/api/x"},
		{"apex not wildcard", "GET", "example.com", "/api/x", nil, 404, "", ""},
		{"param", "GET", "any", "/users/42", nil, 200, "b2", "/users/42"},
		{"method mismatch", "POST", "any", "/users/42", nil, 404, "", ""},
		{"exact with query", "GET", "any", "/exact?v=2", nil, 200, "b3", "/exact"},
		{"exact wrong query", "GET", "any", "/exact?v=3", nil, 404, "", ""},
		{"regex", "GET", "any", "/v12/items", nil, 200, "b2", "/v12/items"},
		{"strip prefix", "GET", "any", "/strip/a/b", nil, 200, "b1", "/a/b"},
		{"no match", "GET", "any", "/nothing", nil, 404, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := mustReq(t, tc.method, "http://"+web+tc.path, nil)
			req.Host = tc.host
			req.Header.Set("X-Debug", "secret")
			for k, v := range tc.hdr {
				req.Header.Set(k, v)
			}
			resp, e := getEcho(t, c, req)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus != 200 {
				if resp.Header.Get("Content-Type") != "application/json" {
					t.Errorf("error content-type %q", resp.Header.Get("Content-Type"))
				}
				return
			}
			if e.Backend != tc.wantBackend || e.Path != tc.wantPath {
				t.Fatalf("backend %s path %s, want %s %s", e.Backend, e.Path, tc.wantBackend, tc.wantPath)
			}
			if resp.Header.Get("X-Request-Id") == "" {
				t.Error("no X-Request-ID in response")
			}
		})
	}

	req := mustReq(t, "GET", "http://"+web+"/api/h", nil)
	req.Host = "a.example.com"
	req.Header.Set("X-Debug", "secret")
	req.Header.Set("X-Request-ID", "abc-123")
	resp, e := getEcho(t, c, req)
	h := http.Header(e.Headers)
	if h.Get("X-Env") != "prod" || h.Get("X-Added") != "1" || h.Get("X-Debug") != "" {
		t.Errorf("request header rules not applied: %v", h)
	}
	if resp.Header.Get("X-Served-By") != "aya" {
		t.Errorf("response header rule not applied: %v", resp.Header)
	}
	if h.Get("X-Request-Id") != "abc-123" || resp.Header.Get("X-Request-Id") != "abc-123" {
		t.Errorf("incoming request id not kept: up %q down %q", h.Get("X-Request-Id"), resp.Header.Get("X-Request-Id"))
	}
	if h.Get("X-Forwarded-For") != "127.0.0.1" || h.Get("X-Forwarded-Proto") != "http" || h.Get("X-Forwarded-Host") != "a.example.com" {
		t.Errorf("forwarded headers: %v", h)
	}
	if !strings.HasPrefix(h.Get("Forwarded"), "for=127.0.0.1") {
		t.Errorf("Forwarded: %q", h.Get("Forwarded"))
	}
	if e.Host != b[0] {
		t.Errorf("upstream Host %q, want the target %q", e.Host, b[0])
	}
	req = mustReq(t, "GET", "http://"+web+"/keep/x", nil)
	req.Host = "client.example"
	if _, e := getEcho(t, c, req); e.Host != "client.example" {
		t.Errorf("preserve_host: upstream saw Host %q", e.Host)
	}
}

func TestHopByHopHeadersRemoved(t *testing.T) {
	b := backends(t, 1)
	web := freePort(t)
	startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams: [{name: u, targets: [{url: "http://%s"}]}]
routes: [{name: r, match: {path: "/*"}, upstream: u}]
admin: {address: "{{ADMIN}}"}
`, web, b[0]))
	req := "GET /headers HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Secret\r\nX-Secret: 1\r\nKeep-Alive: timeout=5\r\n" +
		"Proxy-Authorization: Basic Zm9vOmJhcg==\r\nProxy-Connection: keep-alive\r\nTE: trailers\r\nUpgrade: h2c\r\nX-Forwarded-For: 10.9.9.9\r\nX-Keep: yes\r\n\r\n"
	c, err := net.Dial("tcp", web)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, req)
	resp := readResponse(t, bufio.NewReader(c))
	var got map[string][]string
	json.NewDecoder(resp.Body).Decode(&got)
	h := http.Header(got)
	for _, name := range []string{"X-Secret", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Te", "Upgrade"} {
		if h.Get(name) != "" {
			t.Errorf("%s reached the upstream: %q", name, h.Get(name))
		}
	}
	if h.Get("X-Keep") != "yes" {
		t.Errorf("end-to-end header lost: %v", h)
	}
	if h.Get("X-Forwarded-For") != "10.9.9.9, 127.0.0.1" {
		t.Errorf("X-Forwarded-For %q, want the peer appended", h.Get("X-Forwarded-For"))
	}
}

func TestStreaming(t *testing.T) {
	b := backends(t, 1)
	web := freePort(t)
	startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams: [{name: u, targets: [{url: "http://%s"}]}]
routes: [{name: r, match: {path: "/*"}, upstream: u}]
admin: {address: "{{ADMIN}}"}
`, web, b[0]))
	c := client()

	t.Run("sse flushed per event", func(t *testing.T) {
		checkSSEFlushed(t, c, "http://"+web+"/sse?n=4&interval=300ms")
	})

	t.Run("large download", func(t *testing.T) {
		const n = 64 << 20
		resp, err := c.Get(fmt.Sprintf("http://%s/bytes?n=%d", web, n))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		got, err := io.Copy(io.Discard, resp.Body)
		if err != nil || got != n || resp.ContentLength != n {
			t.Fatalf("got %d bytes (CL %d), err %v", got, resp.ContentLength, err)
		}
	})

	t.Run("chunked upload", func(t *testing.T) {
		const n = 32 << 20
		pr, pw := io.Pipe()
		sum := sha256.New()
		go func() {
			buf := bytes.Repeat([]byte("aya!"), 16<<10)
			for sent := 0; sent < n; sent += len(buf) {
				sum.Write(buf)
				if _, err := pw.Write(buf); err != nil {
					return
				}
			}
			pw.Close()
		}()
		req := mustReq(t, "POST", "http://"+web+"/upload", pr)
		req.ContentLength = -1
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var up struct {
			Bytes  int64  `json:"bytes"`
			SHA256 string `json:"sha256"`
		}
		json.NewDecoder(resp.Body).Decode(&up)
		if up.Bytes != n || up.SHA256 != hex.EncodeToString(sum.Sum(nil)) {
			t.Fatalf("upload arrived as %d bytes %s", up.Bytes, up.SHA256)
		}
	})

	t.Run("expect 100-continue", func(t *testing.T) {
		conn, err := net.Dial("tcp", web)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(conn, "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		br := bufio.NewReader(conn)
		line, err := br.ReadString('\n')
		if err != nil || !strings.Contains(line, "100 Continue") {
			t.Fatalf("want 100 Continue first, got %q %v", line, err)
		}
		br.ReadString('\n')
		io.WriteString(conn, "hello")
		resp := readResponse(t, br)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(body), `"bytes":5`) {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})

	t.Run("websocket", func(t *testing.T) {
		ctx := ctxTimeout(t, 5*time.Second)
		ws, _, err := websocket.Dial(ctx, "ws://"+web+"/ws", nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			msg := fmt.Sprintf("hello %d", i)
			if err := ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
				t.Fatal(err)
			}
			typ, got, err := ws.Read(ctx)
			if err != nil || typ != websocket.MessageText || string(got) != msg {
				t.Fatalf("echo %q %v %v", got, typ, err)
			}
		}
		if err := ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
			t.Fatalf("close: %v", err)
		}
	})
}

func TestHTTP2AndGRPC(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cert, certPEM, keyPEM, err := demo.SelfSigned("localhost")
	if err != nil {
		t.Fatal(err)
	}
	_ = cert
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)

	b := backends(t, 1)
	g, err := demo.StartGRPC(ctx, "127.0.0.1:0", "g1")
	if err != nil {
		t.Fatal(err)
	}
	tlsAddr, h2cAddr := freePort(t), freePort(t)
	startAya(t, fmt.Sprintf(`
listeners:
  - {name: tls, address: "%s", tls: {certificates: [{cert: %s, key: %s}]}}
  - {name: grpc, address: "%s", h2c: true}
upstreams:
  - {name: app, targets: [{url: "http://%s"}]}
  - {name: rpc, targets: [{url: "h2c://%s"}]}
routes:
  - {name: web, listeners: [tls], match: {path: "/*"}, upstream: app}
  - {name: rpc, listeners: [grpc], match: {path: "/*"}, upstream: rpc}
admin: {address: "{{ADMIN}}"}
`, tlsAddr, certFile, keyFile, h2cAddr, b[0], g.String()))

	t.Run("h2 over TLS by ALPN", func(t *testing.T) {
		var protos http.Protocols
		protos.SetHTTP2(true)
		tr := &http.Transport{Protocols: &protos, TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}}
		c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
		resp, e := getEcho(t, c, mustReq(t, "GET", "https://"+tlsAddr+"/hello?x=1", nil))
		if resp.StatusCode != 200 || resp.ProtoMajor != 2 || e.Backend != "b1" || e.Path != "/hello" || e.Query != "x=1" {
			t.Fatalf("proto %s status %d echo %+v", resp.Proto, resp.StatusCode, e)
		}
		if http.Header(e.Headers).Get("X-Forwarded-Proto") != "https" {
			t.Errorf("X-Forwarded-Proto %q", http.Header(e.Headers).Get("X-Forwarded-Proto"))
		}
	})
	t.Run("h2 many concurrent streams", func(t *testing.T) {
		// Many streams on one connection, each answered from pooled upstream buffers: headers
		// must be owned by HTTP/2 before those buffers are reused (HPACK encodes them later).
		var protos http.Protocols
		protos.SetHTTP2(true)
		c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{Protocols: &protos, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := 0; i < 40; i++ {
					resp, err := c.Get(fmt.Sprintf("https://%s/s/%d/%d", tlsAddr, g, i))
					if err != nil {
						errs <- err
						return
					}
					var e echo
					json.NewDecoder(resp.Body).Decode(&e)
					resp.Body.Close()
					if resp.StatusCode != 200 || e.Path != fmt.Sprintf("/s/%d/%d", g, i) || resp.Header.Get("X-Demo-Backend") != "b1" {
						errs <- fmt.Errorf("stream %d/%d: %d %q %q", g, i, resp.StatusCode, e.Path, resp.Header.Get("X-Demo-Backend"))
						return
					}
				}
			}(g)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	})
	t.Run("h1 over TLS", func(t *testing.T) {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		resp, e := getEcho(t, c, mustReq(t, "GET", "https://"+tlsAddr+"/h1", nil))
		if resp.StatusCode != 200 || resp.ProtoMajor != 1 || e.Path != "/h1" {
			t.Fatalf("proto %s status %d", resp.Proto, resp.StatusCode)
		}
	})
	t.Run("grpc over h2c with trailers", func(t *testing.T) {
		conn, err := grpc.NewClient(h2cAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		cctx, ccancel := context.WithTimeout(ctx, 5*time.Second)
		defer ccancel()
		var trailer metadata.MD
		res, err := healthpb.NewHealthClient(conn).Check(cctx, &healthpb.HealthCheckRequest{}, grpc.Trailer(&trailer))
		if err != nil {
			t.Fatal(err)
		}
		if res.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("status %v", res.Status)
		}
		if got := trailer.Get("x-demo-backend"); len(got) != 1 || got[0] != "g1" {
			t.Fatalf("trailer x-demo-backend %v", got)
		}
		in := wrapperspb.Bytes([]byte("ping"))
		out := new(wrapperspb.BytesValue)
		if err := conn.Invoke(cctx, demo.EchoUnaryMethod, in, out); err != nil || string(out.Value) != "ping" {
			t.Fatalf("echo %q %v", out.Value, err)
		}
		// A server stream (Watch) proves streaming responses pass through unbuffered.
		w, err := healthpb.NewHealthClient(conn).Watch(cctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if m, err := w.Recv(); err != nil || m.Status != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("watch %v %v", m, err)
		}
	})
}

func TestErrorsAndTimeouts(t *testing.T) {
	b := backends(t, 1)
	web := freePort(t)
	dead := freePort(t) // nothing listens here
	startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams:
  - {name: ok, targets: [{url: "http://%s"}]}
  - {name: dead, targets: [{url: "http://%s"}], timeouts: {connect: 1s}}
  - name: slow
    targets: [{url: "http://%s"}]
    timeouts: {response_header: 300ms}
routes:
  - {name: dead, match: {path: "/dead/*"}, upstream: dead}
  - {name: slow, match: {path: "/slow/*"}, upstream: slow}
  - {name: total, match: {path: "/total/*"}, upstream: ok, timeout: 300ms}
  - {name: small, match: {path: "/small/*"}, upstream: ok, max_body: 1KB}
admin: {address: "{{ADMIN}}"}
`, web, b[0], dead, b[0]))
	c := client()
	check := func(method, path string, body io.Reader, want int) {
		t.Helper()
		resp, err := c.Do(mustReq(t, method, "http://"+web+path, body))
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("%s %s: status %d, want %d (%s)", method, path, resp.StatusCode, want, data)
		}
		var e struct {
			Error struct {
				Code      int    `json:"code"`
				Message   string `json:"message"`
				RequestID string `json:"request_id"`
			} `json:"error"`
		}
		if err := json.Unmarshal(data, &e); err != nil || e.Error.Code != want || e.Error.RequestID == "" {
			t.Fatalf("%s: error body %s", path, data)
		}
	}
	check("GET", "/dead/x", nil, 502)
	check("GET", "/slow/x?latency=2s", nil, 504)
	check("GET", "/total/x?latency=2s", nil, 504)
	check("POST", "/small/upload", strings.NewReader(strings.Repeat("x", 2048)), 413)
	// The gateway still serves after all that.
	resp, err := c.Get("http://" + web + "/total/ok")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("after errors: %v %v", resp, err)
	}
	resp.Body.Close()
}

// checkSSEFlushed reads url, an SSE stream of 4 events 300 ms apart (the demo backend's
// /sse?n=4&interval=300ms): the first must arrive well before the stream ends, then the rest.
func checkSSEFlushed(t *testing.T, c *http.Client, url string) {
	t.Helper()
	start := time.Now()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	// The whole stream takes 1.2 s; the first event must arrive well before it ends.
	if d := time.Since(start); d > 900*time.Millisecond {
		t.Fatalf("first event after %v: buffered", d)
	}
	if !strings.HasPrefix(line, "data: ") {
		t.Fatalf("first line %q", line)
	}
	rest, _ := io.ReadAll(br)
	if n := strings.Count(string(rest), "data: "); n != 3 {
		t.Fatalf("got %d more events, want 3", n)
	}
}
