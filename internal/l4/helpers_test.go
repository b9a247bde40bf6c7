package l4

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"aya/internal/balance"
	"aya/internal/l4/l4test"
	"aya/internal/upstream"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// testPool is a round-robin upstream.Pool over addrs that records what the proxy reports.
type testPool struct {
	*upstream.Pool
	mu       sync.Mutex
	outcomes map[string][]upstream.Outcome // by target address
}

func newTestPool(t testing.TB, algorithm string, addrs ...string) *testPool {
	t.Helper()
	ts := make([]*upstream.Target, len(addrs))
	for i, a := range addrs {
		ts[i] = &upstream.Target{Name: "tcp://" + a, Addr: a, Balance: balance.NewTarget("tcp://"+a, 1)}
	}
	nb := func() balance.Balancer {
		b, err := balance.New(algorithm, balance.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	return &testPool{Pool: upstream.NewPool("up", nb, ts), outcomes: map[string][]upstream.Outcome{}}
}

func (p *testPool) Answered(t *upstream.Target, o upstream.Outcome, d time.Duration) {
	p.mu.Lock()
	p.outcomes[t.Addr] = append(p.outcomes[t.Addr], o)
	p.mu.Unlock()
	p.Pool.Answered(t, o, d)
}

func (p *testPool) outcomesOf(addr string) []upstream.Outcome {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]upstream.Outcome(nil), p.outcomes[addr]...)
}

// resolver serves pools by name with one try per target.
func resolver(pools map[string]Pool) Resolver {
	return ResolverFunc(func(name string) (Upstream, bool) {
		p, ok := pools[name]
		return Upstream{Name: name, Pool: p, ConnectTimeout: time.Second, Tries: 3}, ok
	})
}

// echoServer answers every connection with its name, then echoes what it reads.
func echoServer(t testing.TB, name string) string { return l4test.NameEcho(t, name) }

// deadAddr is a loopback address nothing listens on.
func deadAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

// startTCP serves p on a loopback port and returns its address.
func startTCP(t testing.TB, p *TCP) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(ln)
	t.Cleanup(func() { p.Shutdown(ctxDone()) })
	return ln.Addr().String()
}

// ctxDone is a context that has ended: Shutdown closes everything at once.
func ctxDone() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}

// tlsServer serves TLS for name with a fresh self-signed certificate, writing name on every
// connection; it returns the certificate's pool and the address.
func tlsServer(t testing.TB, name string) (*x509.CertPool, string) {
	t.Helper()
	cert, pool := selfSigned(t, name)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}}
	return pool, l4test.Serve(t, func(c net.Conn) {
		tc := tls.Server(c, cfg)
		defer tc.Close()
		tc.SetDeadline(time.Now().Add(5 * time.Second))
		io.WriteString(tc, name+"\n")
	})
}

func selfSigned(t testing.TB, name string) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: name},
		DNSNames:     []string{name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IsCA:         true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}
