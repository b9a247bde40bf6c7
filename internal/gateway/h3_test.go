package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"aya/internal/config"
	"aya/internal/httpx"
)

// writeTestCert writes a self-signed certificate for localhost and 127.0.0.1 as dir/cert.pem
// and dir/cert.key, and returns a pool that trusts it.
func writeTestCert(t testing.TB, dir string) *x509.CertPool {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return pool
}

const h3Config = `listeners:
  - name: web
    address: "127.0.0.1:0"
    http3: {{H3}}
    limits: {max_conns_per_ip: {{PERIP}}}
    tls: {certificates: [{cert: "{{DIR}}/cert.pem", key: "{{DIR}}/cert.key"}]}
admin: {address: "127.0.0.1:0"}
upstreams: [{name: u, targets: [{url: "{{BACKEND}}"}]}]
routes: [{name: api, match: {path: "/api/*"}, upstream: u}]
access_log: {enabled: false}
`

func h3ConfigFor(t testing.TB, dir, backend string, on bool, perIP int) *config.Config {
	t.Helper()
	text := strings.NewReplacer("{{DIR}}", dir, "{{BACKEND}}", backend, "{{H3}}", strconv.FormatBool(on), "{{PERIP}}", strconv.Itoa(perIP)).Replace(h3Config)
	path := filepath.Join(dir, "aya.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// h3Gateway starts a gateway whose one TLS listener serves HTTP/3, and returns it with a pool
// trusting its certificate.
func h3Gateway(t *testing.T, backend string, perIP int) (*Gateway, *x509.CertPool, string) {
	t.Helper()
	dir := t.TempDir()
	pool := writeTestCert(t, dir)
	g, err := New(h3ConfigFor(t, dir, backend, true, perIP), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	})
	return g, pool, dir
}

func h3Client(t *testing.T, pool *x509.CertPool) *http.Client {
	tr := &http3.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	t.Cleanup(func() { tr.Close() })
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

// udpFree reports whether addr's port can be bound over UDP (aya released it).
func udpFree(addr string) bool {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return false
	}
	pc.Close()
	return true
}

func TestHTTP3ServesRoutes(t *testing.T) {
	type seen struct {
		method, proto, te string
		cl                int64
		body              string
	}
	got := make(chan seen, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- seen{r.Method, r.Proto, strings.Join(r.TransferEncoding, ","), r.ContentLength, string(body)}
		w.Header().Set("X-Backend", "yes")
		w.Write([]byte("hello " + string(body)))
	}))
	t.Cleanup(be.Close)
	g, pool, _ := h3Gateway(t, be.URL, 0)
	sink := &copySink{}
	g.Sinks().Add(sink)
	c := h3Client(t, pool)
	base := "https://" + g.Addr("web")

	tests := []struct {
		name, method, body string
		wantBody           string
		want               seen
	}{
		{"GET reaches the backend without a body", "GET", "", "hello ", seen{"GET", "HTTP/1.1", "", 0, ""}},
		{"POST streams its body", "POST", "payload", "hello payload", seen{"POST", "HTTP/1.1", "", 7, "payload"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req, _ := http.NewRequest(tc.method, base+"/api/x", body)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.ProtoMajor != 3 || resp.StatusCode != 200 || string(b) != tc.wantBody || resp.Header.Get("X-Backend") != "yes" {
				t.Fatalf("%s %d %q %v", resp.Proto, resp.StatusCode, b, resp.Header)
			}
			if resp.Header.Get("Alt-Svc") != "" {
				t.Errorf("an HTTP/3 response advertises HTTP/3: %q", resp.Header.Get("Alt-Svc"))
			}
			if s := <-got; s != tc.want {
				t.Fatalf("backend saw %+v, want %+v", s, tc.want)
			}
		})
	}
	recs := sink.all()
	if len(recs) != 2 || recs[0].Proto != "HTTP/3.0" || recs[0].Route != "api" || recs[1].BytesIn != 7 {
		t.Fatalf("records %+v", recs)
	}
}

func TestAltSvcOnTLSResponses(t *testing.T) {
	be := backend(t)
	g, pool, _ := h3Gateway(t, be.URL, 0)
	_, port, _ := net.SplitHostPort(g.Addr("web"))
	want := `h3=":` + port + `"; ma=86400`
	for _, h2 := range []bool{false, true} {
		var protos http.Protocols
		protos.SetHTTP1(!h2)
		protos.SetHTTP2(h2)
		tr := &http.Transport{Protocols: &protos, TLSClientConfig: &tls.Config{RootCAs: pool}}
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + g.Addr("web") + "/api/a")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		tr.CloseIdleConnections()
		if got := resp.Header.Values("Alt-Svc"); len(got) != 1 || got[0] != want {
			t.Errorf("%s: Alt-Svc %q, want %q", resp.Proto, got, want)
		}
	}
}

func TestHTTP3ShutdownClosesTheUDPSocket(t *testing.T) {
	be := backend(t)
	g, pool, _ := h3Gateway(t, be.URL, 0)
	addr := g.Addr("web")
	if udpFree(addr) {
		t.Fatal("the UDP port is free while aya serves HTTP/3 on it")
	}
	resp, err := h3Client(t, pool).Get("https://" + addr + "/api/a")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if !udpFree(addr) {
		t.Fatal("the UDP port is still bound after shutdown")
	}
}

func TestHTTP3ReloadTurnsItOff(t *testing.T) {
	be := backend(t)
	g, pool, dir := h3Gateway(t, be.URL, 0)
	addr := g.Addr("web")
	c := h3Client(t, pool)
	resp, err := c.Get("https://" + addr + "/api/a")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	if err := g.Reload(h3ConfigFor(t, dir, be.URL, false, 0)); err != nil {
		t.Fatal(err)
	}
	newAddr := g.Addr("web")
	if !udpFree(newAddr) {
		t.Fatal("UDP still bound after a reload turned http3 off")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	defer tr.CloseIdleConnections()
	resp, err = (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + newAddr + "/api/a")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if v := resp.Header.Get("Alt-Svc"); v != "" {
		t.Fatalf("Alt-Svc %q after http3 was turned off", v)
	}

	// And on again: the new listener binds UDP and serves QUIC.
	if err := g.Reload(h3ConfigFor(t, dir, be.URL, true, 0)); err != nil {
		t.Fatal(err)
	}
	resp, err = h3Client(t, pool).Get("https://" + g.Addr("web") + "/api/a")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 3 || resp.StatusCode != 200 {
		t.Fatalf("%s %d after turning http3 back on", resp.Proto, resp.StatusCode)
	}
}

func TestHTTP3ObeysConnectionCaps(t *testing.T) {
	be := backend(t)
	g, pool, _ := h3Gateway(t, be.URL, 1)
	url := "https://" + g.Addr("web") + "/api/a"
	// The first client's QUIC connection stays open (idle, pooled) while the second dials.
	resp, err := h3Client(t, pool).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp, err := h3Client(t, pool).Get(url); err == nil {
		resp.Body.Close()
		t.Fatalf("a second QUIC connection from the same IP was served (%d) over max_conns_per_ip 1", resp.StatusCode)
	}
}

// TestH3AdapterBodies covers the one thing the HTTP/3 adapter adds to the HTTP/2 one: a GET's
// unknown length becomes "no body" when the client ended the stream with the head.
func TestH3AdapterBodies(t *testing.T) {
	tests := []struct {
		name, method, body string
		length             int64
		wantLength         int64
		wantBody           string
	}{
		{"GET without a body", "GET", "", -1, 0, ""},
		{"GET with a body keeps it", "GET", "abc", -1, -1, "abc"},
		{"POST of unknown length streams", "POST", "abc", -1, -1, "abc"},
		{"POST of known length", "POST", "abc", 3, 3, "abc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var gotLength int64
			var gotBody string
			a := &h3Adapter{h2Adapter{listener: "web", handler: httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
				gotLength = r.ContentLength
				b, _ := io.ReadAll(r.Body)
				gotBody = string(b)
			})}}
			hr := httptest.NewRequest(tc.method, "https://localhost/x", io.NopCloser(strings.NewReader(tc.body)))
			hr.ContentLength = tc.length
			a.ServeHTTP(httptest.NewRecorder(), hr)
			if gotLength != tc.wantLength || gotBody != tc.wantBody {
				t.Fatalf("length %d body %q, want %d %q", gotLength, gotBody, tc.wantLength, tc.wantBody)
			}
		})
	}
}

func TestAltSvcField(t *testing.T) {
	if f := altSvcField(8443); f.Name != "Alt-Svc" || f.Value != `h3=":8443"; ma=86400` {
		t.Fatalf("%+v", f)
	}
}

func BenchmarkAltSvc(b *testing.B) {
	a := &altSvc{next: httpx.HandlerFunc(func(httpx.ResponseWriter, *httpx.Request) {}), field: altSvcField(8443)}
	w := &nopWriter{}
	r := &httpx.Request{}
	b.ReportAllocs()
	for b.Loop() {
		w.h.Reset()
		a.ServeHTTPX(w, r)
	}
}

func TestAltSvcDoesNotAllocate(t *testing.T) {
	a := &altSvc{next: httpx.HandlerFunc(func(httpx.ResponseWriter, *httpx.Request) {}), field: altSvcField(8443)}
	w := &nopWriter{}
	r := &httpx.Request{}
	a.ServeHTTPX(w, r)
	if n := testing.AllocsPerRun(100, func() {
		w.h.Reset()
		a.ServeHTTPX(w, r)
	}); n != 0 {
		t.Fatalf("%v allocations per request", n)
	}
}
