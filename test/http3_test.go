package test

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go/http3"

	"aya/internal/demo"
)

const http3Config = `
listeners:
  - name: web
    address: "%[1]s"
    http3: %[4]t
    tls: {certificates: [{cert: %[2]s, key: %[3]s}]}
upstreams: [{name: u, targets: [{url: "http://%[5]s"}]}]
routes: [{name: r, match: {path: "/*"}, upstream: u}]
admin: {address: "{{ADMIN}}"}
`

// udpBound reports whether aya holds addr's port over UDP (binding it fails).
func udpBound(addr string) bool {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return true
	}
	pc.Close()
	return false
}

// TestHTTP3 drives a TLS listener with http3: true through quic-go's own HTTP/3 client, to an
// HTTP/1.1 backend.
func TestHTTP3(t *testing.T) {
	dir := t.TempDir()
	cert, key, pemBytes := certFor(t, dir, "srv", "localhost", x509.ExtKeyUsageServerAuth)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pemBytes)
	tlsConf := &tls.Config{RootCAs: pool, ServerName: "localhost"}
	b := backends(t, 1)
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(http3Config, web, cert, key, true, b[0]))

	h3 := &http3.Transport{TLSClientConfig: tlsConf}
	defer h3.Close()
	c := &http.Client{Transport: h3, Timeout: 10 * time.Second}
	base := "https://" + web

	t.Run("GET", func(t *testing.T) {
		resp, e := getEcho(t, c, mustReq(t, "GET", base+"/hello?x=1", nil))
		if resp.StatusCode != 200 || resp.Proto != "HTTP/3.0" {
			t.Fatalf("%s %d", resp.Proto, resp.StatusCode)
		}
		if e.Method != "GET" || e.Path != "/hello" || e.Query != "x=1" || e.BodyBytes != 0 {
			t.Fatalf("backend saw %+v", e)
		}
		if te := http.Header(e.Headers).Get("Transfer-Encoding"); te != "" {
			t.Fatalf("a GET reached the backend with Transfer-Encoding %q", te)
		}
		if xfp := http.Header(e.Headers).Get("X-Forwarded-Proto"); xfp != "https" {
			t.Errorf("X-Forwarded-Proto %q", xfp)
		}
	})

	t.Run("POST streams the body", func(t *testing.T) {
		body := strings.Repeat("0123456789abcdef", 64<<10) // 1 MiB
		sum := sha256.Sum256([]byte(body))
		// An io.Reader without a known length goes out without Content-Length.
		resp, err := c.Post(base+"/upload", "application/octet-stream", io.MultiReader(strings.NewReader(body)))
		if err != nil {
			t.Fatal(err)
		}
		var up demo.UploadReply
		if err := jsonDecode(resp, &up); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %v", resp.StatusCode, err)
		}
		if up.Bytes != int64(len(body)) || up.SHA256 != hex.EncodeToString(sum[:]) {
			t.Fatalf("backend got %d bytes, sha %s", up.Bytes, up.SHA256)
		}
	})

	t.Run("SSE flushed per event", func(t *testing.T) {
		checkSSEFlushed(t, c, base+"/sse?n=4&interval=300ms")
	})

	t.Run("response trailers", func(t *testing.T) {
		resp, err := c.Get(base + "/trailers?n=64")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		sum := sha256.Sum256(b)
		if got := resp.Trailer.Get("X-Checksum"); got != hex.EncodeToString(sum[:]) {
			t.Fatalf("trailer X-Checksum %q over %d bytes", got, len(b))
		}
	})

	t.Run("Alt-Svc on h1 and h2", func(t *testing.T) {
		_, port, _ := net.SplitHostPort(web)
		want := `h3=":` + port + `"; ma=86400`
		for _, h2 := range []bool{false, true} {
			var protos http.Protocols
			protos.SetHTTP1(!h2)
			protos.SetHTTP2(h2)
			tr := &http.Transport{Protocols: &protos, TLSClientConfig: tlsConf}
			resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(base + "/")
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
	})

	t.Run("reload turns it off", func(t *testing.T) {
		p.rewrite(fmt.Sprintf(http3Config, web, cert, key, false, b[0]))
		deadline := time.Now().Add(5 * time.Second)
		for udpBound(web) {
			if time.Now().After(deadline) {
				t.Fatalf("UDP %s still bound 5s after a reload turned http3 off\n%s", web, p.out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		p.rewrite(fmt.Sprintf(http3Config, web, cert, key, true, b[0]))
		deadline = time.Now().Add(5 * time.Second)
		for !udpBound(web) {
			if time.Now().After(deadline) {
				t.Fatalf("UDP %s not bound 5s after a reload turned http3 on\n%s", web, p.out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		// A fresh client: the old one's connection was closed with the old listener.
		h3b := &http3.Transport{TLSClientConfig: tlsConf}
		defer h3b.Close()
		resp, err := (&http.Client{Transport: h3b, Timeout: 5 * time.Second}).Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ProtoMajor != 3 {
			t.Fatalf("%s %d", resp.Proto, resp.StatusCode)
		}
	})

	t.Run("shutdown closes the UDP socket", func(t *testing.T) {
		if !udpBound(web) {
			t.Fatal("UDP port not bound while serving HTTP/3")
		}
		if code := p.stop(10 * time.Second); code != 0 {
			t.Fatalf("exit code %d\n%s", code, p.out.String())
		}
		if udpBound(web) {
			t.Fatal("UDP port still bound after aya exited")
		}
		if strings.Contains(p.out.String(), "UDP-Buffer-Sizes") {
			t.Errorf("quic-go's buffer warning reached the log:\n%s", p.out.String())
		}
	})
}

func TestHTTP3NeedsTLS(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "aya.yaml")
	writeFile(t, path, `listeners:
  - name: web
    address: "127.0.0.1:8080"
    http3: true
upstreams: [{name: u, targets: [{url: "http://127.0.0.1:9000"}]}]
routes: [{name: r, upstream: u}]
`)
	out, code := runAya(t, "validate", "-c", path)
	if code == 0 || !strings.Contains(out, "aya.yaml:4:") || !strings.Contains(out, "http3 needs tls") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
}
