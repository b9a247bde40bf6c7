package config

import "crypto/tls"

// MinTLSVersion returns MinVersion as a crypto/tls constant.
func (t *ListenerTLS) MinTLSVersion() uint16 {
	if t.MinVersion == "1.3" {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}

// ClientAuthType returns ClientAuth as a crypto/tls policy. "request" verifies a certificate
// when the client sends one.
func (t *ListenerTLS) ClientAuthType() tls.ClientAuthType {
	switch t.ClientAuth {
	case ClientAuthRequest:
		return tls.VerifyClientCertIfGiven
	case ClientAuthRequire:
		return tls.RequireAndVerifyClientCert
	}
	return tls.NoClientCert
}
