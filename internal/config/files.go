package config

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"
)

// maxPEMBytes bounds certificate and key files; real ones are a few KB.
const maxPEMBytes = 1 << 20

// resolvePath makes a config-relative path absolute-ish: relative paths are taken from the
// config file's directory, so a config works the same whatever directory aya starts in.
func (v *validator) resolvePath(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(v.dir, p)
}

// loadKeyPair checks that a certificate chain and its key load together.
func loadKeyPair(certFile, keyFile string) error {
	certPEM, err := readFileLimited(certFile, maxPEMBytes)
	if err != nil {
		return fmt.Errorf("cannot read cert: %w", err)
	}
	keyPEM, err := readFileLimited(keyFile, maxPEMBytes)
	if err != nil {
		return fmt.Errorf("cannot read key: %w", err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return fmt.Errorf("cert %s and key %s do not load as a pair: %w", certFile, keyFile, err)
	}
	return nil
}

// loadCAs checks that a CA bundle holds at least one PEM certificate.
func loadCAs(file string) error {
	data, err := readFileLimited(file, maxPEMBytes)
	if err != nil {
		return fmt.Errorf("cannot read CA bundle: %w", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(data) {
		return fmt.Errorf("CA bundle %s holds no PEM certificate", file)
	}
	return nil
}
