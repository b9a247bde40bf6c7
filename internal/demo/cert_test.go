package demo

import (
	"crypto/x509"
	"net"
	"slices"
	"testing"
)

func TestSelfSigned(t *testing.T) {
	cert, certPEM, keyPEM, err := SelfSigned("api.test", "192.0.2.1")
	if err != nil {
		t.Fatal(err)
	}
	if len(keyPEM) == 0 || len(cert.Certificate) != 1 {
		t.Fatalf("key %d bytes, chain %d", len(keyPEM), len(cert.Certificate))
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(certPEM) {
		t.Fatal("certPEM does not parse")
	}
	for _, host := range []string{"localhost", "127.0.0.1", "::1", "api.test", "192.0.2.1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.test"}); err == nil {
		t.Error("valid for a host it was not made for")
	}
	if !slices.ContainsFunc(leaf.IPAddresses, func(ip net.IP) bool { return ip.Equal(net.IPv6loopback) }) {
		t.Errorf("IP SANs %v lack ::1", leaf.IPAddresses)
	}
}
