package test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aya/internal/demo"
)

// certFor makes a self-signed certificate for one DNS name with the given extended key usage
// and writes it to dir as name.pem / name.key.
func certFor(t *testing.T, dir, name, cn string, usage x509.ExtKeyUsage) (certFile, keyFile string, pemBytes []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"aya test"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{usage},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{cn},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	pemBytes = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certFile, keyFile = filepath.Join(dir, name+".pem"), filepath.Join(dir, name+".key")
	writeFile(t, certFile, string(pemBytes))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})))
	return certFile, keyFile, pemBytes
}

// peerCN dials addr with SNI and returns the CN of the certificate aya presented.
func peerCN(t *testing.T, addr, sni string) string {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, &tls.Config{ServerName: sni, InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].Subject.CommonName
}

func TestTLSListener(t *testing.T) {
	dir := t.TempDir()
	aCert, aKey, _ := certFor(t, dir, "a", "a.example.com", x509.ExtKeyUsageServerAuth)
	bCert, bKey, _ := certFor(t, dir, "b", "b.example.com", x509.ExtKeyUsageServerAuth)
	certFor(t, dir, "client", "client-1", x509.ExtKeyUsageClientAuth)
	caFile := filepath.Join(dir, "client.pem")
	b := backends(t, 1)
	sniAddr, mtlsAddr, v13Addr := freePort(t), freePort(t), freePort(t)
	startAya(t, fmt.Sprintf(`
listeners:
  - {name: sni, address: "%[1]s", tls: {certificates: [{cert: %[2]s, key: %[3]s}, {cert: %[4]s, key: %[5]s}]}}
  - {name: mtls, address: "%[6]s", tls: {certificates: [{cert: %[2]s, key: %[3]s}], client_ca: %[7]s}}
  - {name: v13, address: "%[8]s", tls: {certificates: [{cert: %[2]s, key: %[3]s}], min_version: "1.3"}}
upstreams: [{name: u, targets: [{url: "http://%[9]s"}]}]
routes: [{name: r, match: {path: "/*"}, upstream: u}]
admin: {address: "{{ADMIN}}"}
`, sniAddr, aCert, aKey, bCert, bKey, mtlsAddr, caFile, v13Addr, b[0]))

	t.Run("certificate chosen by SNI", func(t *testing.T) {
		if cn := peerCN(t, sniAddr, "a.example.com"); cn != "a.example.com" {
			t.Errorf("SNI a: got %s", cn)
		}
		if cn := peerCN(t, sniAddr, "b.example.com"); cn != "b.example.com" {
			t.Errorf("SNI b: got %s", cn)
		}
	})

	t.Run("minimum version", func(t *testing.T) {
		_, err := tls.Dial("tcp", v13Addr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS12})
		if err == nil {
			t.Fatal("TLS 1.2 accepted on a min_version 1.3 listener")
		}
		_, err = tls.Dial("tcp", sniAddr, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
		if err == nil {
			t.Fatal("TLS 1.1 accepted by default")
		}
	})

	t.Run("client certificates", func(t *testing.T) {
		noCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		if _, err := noCert.Get("https://" + mtlsAddr + "/"); err == nil {
			t.Fatal("request without a client certificate accepted")
		}
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "client.pem"), filepath.Join(dir, "client.key"))
		if err != nil {
			t.Fatal(err)
		}
		withCert := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{pair}}}}
		resp, e := getEcho(t, withCert, mustReq(t, "GET", "https://"+mtlsAddr+"/who", nil))
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
		xfcc := http.Header(e.Headers).Get("X-Forwarded-Client-Cert")
		if !strings.Contains(xfcc, "CN=client-1") || !strings.HasPrefix(xfcc, "Hash=") {
			t.Fatalf("X-Forwarded-Client-Cert %q", xfcc)
		}
	})

	t.Run("certificate files reloaded", func(t *testing.T) {
		// Replace a.pem/a.key with a certificate for another name; aya picks it up by itself.
		certFor(t, dir, "a-new", "renewed.example.com", x509.ExtKeyUsageServerAuth)
		os.Rename(filepath.Join(dir, "a-new.key"), aKey)
		os.Rename(filepath.Join(dir, "a-new.pem"), aCert)
		deadline := time.Now().Add(8 * time.Second)
		for peerCN(t, sniAddr, "renewed.example.com") != "renewed.example.com" {
			if time.Now().After(deadline) {
				t.Fatal("renewed certificate not served within 8s")
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
}

// TestUpstreamTLS proxies to HTTPS targets: HTTP/1.1 verified against a CA file, and HTTP/2
// (protocol: h2), and checks which protocol reached the backend.
func TestUpstreamTLS(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cert, certPEM, _, err := demo.SelfSigned("localhost")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	writeFile(t, ca, string(certPEM))
	addr, err := demo.StartTLS(ctx, "127.0.0.1:0", demo.NewEcho(demo.EchoOptions{Name: "tls"}), cert)
	if err != nil {
		t.Fatal(err)
	}
	web := freePort(t)
	startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%[1]s"}]
upstreams:
  - {name: h1, targets: [{url: "https://%[2]s"}], tls: {ca: %[3]s, server_name: localhost}}
  - {name: h2, targets: [{url: "https://%[2]s", protocol: h2}], tls: {ca: %[3]s, server_name: localhost}}
  - {name: unverified, targets: [{url: "https://%[2]s"}], tls: {server_name: localhost}}
routes:
  - {name: h1, match: {path: "/h1/*"}, upstream: h1}
  - {name: h2, match: {path: "/h2/*"}, upstream: h2}
  - {name: unverified, match: {path: "/bad/*"}, upstream: unverified}
admin: {address: "{{ADMIN}}"}
`, web, addr.String(), ca))
	c := client()
	var got struct {
		Proto string `json:"proto"`
	}
	for path, want := range map[string]string{"/h1/x": "HTTP/1.1", "/h2/x": "HTTP/2.0"} {
		resp, err := c.Get("http://" + web + path)
		if err != nil {
			t.Fatal(err)
		}
		if err := jsonDecode(resp, &got); err != nil || resp.StatusCode != 200 || got.Proto != want {
			t.Errorf("%s: status %d proto %q (want %s) %v", path, resp.StatusCode, got.Proto, want, err)
		}
	}
	// A target whose certificate aya cannot verify is a 502, never a silent pass.
	resp, err := c.Get("http://" + web + "/bad/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 502 {
		t.Fatalf("unverifiable upstream: status %d, want 502", resp.StatusCode)
	}
}
