package gateway

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"aya/internal/config"
)

// certStore serves a listener's certificates, chosen by SNI, and reloads them when their files
// change so a renewed certificate is served without a restart.
type certStore struct {
	files []config.Certificate
	certs atomic.Pointer[[]tls.Certificate]
	mtime []time.Time
	log   *slog.Logger
}

func newCertStore(files []config.Certificate, log *slog.Logger) (*certStore, error) {
	s := &certStore{files: files, log: log, mtime: make([]time.Time, len(files))}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *certStore) load() error {
	certs := make([]tls.Certificate, 0, len(s.files))
	for i, f := range s.files {
		c, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return fmt.Errorf("certificate %s / key %s: %w", f.Cert, f.Key, err)
		}
		if c.Leaf == nil && len(c.Certificate) > 0 {
			c.Leaf, _ = x509.ParseCertificate(c.Certificate[0])
		}
		certs = append(certs, c)
		s.mtime[i] = modTime(f.Cert, f.Key)
	}
	s.certs.Store(&certs)
	return nil
}

func modTime(paths ...string) time.Time {
	var latest time.Time
	for _, p := range paths {
		if st, err := os.Stat(p); err == nil && st.ModTime().After(latest) {
			latest = st.ModTime()
		}
	}
	return latest
}

// watch polls the files' modification times. Polling (not fsnotify) because certificate
// managers swap files in many ways (rename, symlink flip, in-place write) and a 2 s stat loop
// sees all of them at negligible cost.
func (s *certStore) watch(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		changed := false
		for i, f := range s.files {
			if !modTime(f.Cert, f.Key).Equal(s.mtime[i]) {
				changed = true
			}
		}
		if !changed {
			continue
		}
		if err := s.load(); err != nil {
			s.log.Error("certificate reload failed; keeping the previous certificates", "error", err)
			continue
		}
		s.log.Info("certificates reloaded", "count", len(s.files))
	}
}

// get picks the first certificate valid for the client's SNI, or the first one.
func (s *certStore) get(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	certs := *s.certs.Load()
	if len(certs) == 0 {
		return nil, errors.New("no certificate configured")
	}
	for i := range certs {
		if hello.SupportsCertificate(&certs[i]) == nil {
			return &certs[i], nil
		}
	}
	return &certs[0], nil
}

// serverTLS builds the listener's tls.Config: SNI selection, minimum version, optional client
// certificates, and ALPN offering h2 before http/1.1.
func serverTLS(l *config.Listener, store *certStore) (*tls.Config, error) {
	c := &tls.Config{
		GetCertificate: store.get,
		MinVersion:     tls.VersionTLS12,
		NextProtos:     []string{"h2", "http/1.1"},
	}
	if l.TLS.MinVersion == "1.3" {
		c.MinVersion = tls.VersionTLS13
	}
	if l.TLS.ClientCA != "" {
		pem, err := os.ReadFile(l.TLS.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("listener %q: client_ca: %w", l.Name, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("listener %q: client_ca %s: no PEM certificates found", l.Name, l.TLS.ClientCA)
		}
		c.ClientCAs = pool
	}
	switch l.TLS.ClientAuth {
	case config.ClientAuthRequire:
		c.ClientAuth = tls.RequireAndVerifyClientCert
	case config.ClientAuthRequest:
		c.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return c, nil
}

// upstreamTLS builds the client tls.Config for https and h2 targets.
func upstreamTLS(u *config.Upstream, host string, log *slog.Logger) (*tls.Config, error) {
	return clientTLS(u.TLS, fmt.Sprintf("upstream %q", u.Name), host, log)
}

// clientTLS builds a client tls.Config from t (nil: system roots) for what ("upstream
// \"app\"", "llm provider \"openai\""); host is the SNI and verified name unless t names one.
func clientTLS(t *config.UpstreamTLS, what, host string, log *slog.Logger) (*tls.Config, error) {
	c := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if t == nil {
		return c, nil
	}
	if t.ServerName != "" {
		c.ServerName = t.ServerName
	}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("%s: tls.ca: %w", what, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: tls.ca %s: no PEM certificates found", what, t.CA)
		}
		c.RootCAs = pool
	}
	if t.Cert != "" {
		cert, err := tls.LoadX509KeyPair(t.Cert, t.Key)
		if err != nil {
			return nil, fmt.Errorf("%s: client certificate: %w", what, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	if t.InsecureSkipVerify {
		log.Warn("TLS verification is disabled; traffic to it can be intercepted", "to", what)
		c.InsecureSkipVerify = true
	}
	return c, nil
}
