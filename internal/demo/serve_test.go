package demo

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestProtocols(t *testing.T) {
	h := NewEcho(EchoOptions{Name: "p"})
	cert, certPEM, _, err := SelfSigned()
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(certPEM)

	h2c := new(http.Protocols)
	h2c.SetUnencryptedHTTP2(true)
	h1 := new(http.Protocols)
	h1.SetHTTP1(true)

	tests := []struct {
		name      string
		start     func(ctx context.Context) (string, error)
		transport *http.Transport
		wantProto string
	}{
		{"h1", plain(Start, h), &http.Transport{}, "HTTP/1.1"},
		{"h2c prior knowledge", plain(StartH2C, h), &http.Transport{Protocols: h2c}, "HTTP/2.0"},
		{"h1 on the h2c server", plain(StartH2C, h), &http.Transport{Protocols: h1}, "HTTP/1.1"},
		{"https h2", secure(h, cert), &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}, ForceAttemptHTTP2: true}, "HTTP/2.0"},
		{"https h1", secure(h, cert), &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, "HTTP/1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, err := tt.start(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			c := &http.Client{Transport: tt.transport}
			defer tt.transport.CloseIdleConnections()
			resp, body := get(t, c, base+"/x")
			if got := decode[EchoReply](t, body); got.Proto != tt.wantProto || resp.Proto != tt.wantProto || got.Backend != "p" {
				t.Errorf("server saw %q, client %q, backend %q; want %q", got.Proto, resp.Proto, got.Backend, tt.wantProto)
			}
			resp, _ = get(t, c, base+"/trailers?n=10")
			if resp.Trailer.Get("X-Checksum") != patternSum(t, 10) {
				t.Errorf("trailer lost over %s: %v", resp.Proto, resp.Trailer)
			}
		})
	}
}

func plain(start func(context.Context, string, http.Handler) (net.Addr, error), h http.Handler) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		a, err := start(ctx, "127.0.0.1:0", h)
		if err != nil {
			return "", err
		}
		return "http://" + a.String(), nil
	}
}

func secure(h http.Handler, cert tls.Certificate) func(context.Context) (string, error) {
	return func(ctx context.Context) (string, error) {
		a, err := StartTLS(ctx, "127.0.0.1:0", h, cert)
		if err != nil {
			return "", err
		}
		return "https://" + a.String(), nil
	}
}

func TestShutdownEndsStreams(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	addr, err := Start(ctx, "127.0.0.1:0", NewEcho(EchoOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr.String() + "/sse?n=1000&interval=1s")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	first := make([]byte, 8)
	if _, err := io.ReadFull(resp.Body, first); err != nil {
		t.Fatal(err)
	}
	cancel()
	start := time.Now()
	_, _ = io.Copy(io.Discard, resp.Body)
	if took := time.Since(start); took > shutdownGrace {
		t.Errorf("stream lasted %s after shutdown", took)
	}
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(time.Second)
	for {
		if _, err := c.Get("http://" + addr.String() + "/"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("server still accepting after shutdown")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStartReportsBusyAddress(t *testing.T) {
	addr, err := Start(t.Context(), "127.0.0.1:0", NewEcho(EchoOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = Start(t.Context(), addr.String(), NewEcho(EchoOptions{}))
	if err == nil || !strings.Contains(err.Error(), addr.String()) || !strings.Contains(err.Error(), "free port") {
		t.Errorf("error %v should name the address and the fix", err)
	}
}
