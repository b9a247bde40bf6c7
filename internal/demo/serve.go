package demo

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// shutdownGrace bounds how long a stopping server waits for in-flight requests. Handlers see
// the server's context end and return promptly, so this only matters for stuck clients.
const shutdownGrace = 2 * time.Second

// Start serves h over HTTP/1.1 on addr ("127.0.0.1:0" picks a free port) until ctx ends and
// returns the bound address. Request contexts end with ctx, so streams stop at shutdown.
func Start(ctx context.Context, addr string, h http.Handler) (net.Addr, error) {
	return serve(ctx, addr, h, nil, nil)
}

// StartH2C serves h over HTTP/1.1 and cleartext HTTP/2 with prior knowledge (what gRPC and
// h2c:// clients send) on addr until ctx ends. The HTTP/1.1 "Upgrade: h2c" dance is not
// offered: RFC 9113 deprecated it and net/http's built-in h2c, used here, does not speak it.
func StartH2C(ctx context.Context, addr string, h http.Handler) (net.Addr, error) {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return serve(ctx, addr, h, p, nil)
}

// StartTLS serves h over HTTPS with ALPN h2 and http/1.1 on addr until ctx ends.
func StartTLS(ctx context.Context, addr string, h http.Handler, cert tls.Certificate) (net.Addr, error) {
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	return serve(ctx, addr, h, nil, cfg)
}

func serve(ctx context.Context, addr string, h http.Handler, protos *http.Protocols, tlsCfg *tls.Config) (net.Addr, error) {
	ln, err := listen(ctx, addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           h,
		Protocols:         protos,
		TLSConfig:         tlsCfg,
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	go func() {
		var err error
		if tlsCfg != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if !errors.Is(err, http.ErrServerClosed) {
			slog.Error("demo server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	}()
	return ln.Addr(), nil
}

func listen(ctx context.Context, addr string) (net.Listener, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("demo server: listen on %q: %w (choose a free port, or 127.0.0.1:0 for any)", addr, err)
	}
	return ln, nil
}
