package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestHTTP3Listener(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "a")
	tests := []struct {
		name string
		yaml string
		want []string // "line: reason"; empty when the config is valid
	}{
		{"on a TLS listener", `listeners:
  - name: web
    address: "127.0.0.1:8443"
    http3: true
    tls: {certificates: [{cert: a.pem, key: a.key}]}
` + okUpstream + okRoute, nil},
		{"without tls", `listeners:
  - name: web
    address: "127.0.0.1:8080"
    http3: true
` + okUpstream + okRoute, []string{
			`4: listener "web": http3 needs tls (QUIC always encrypts): add tls: {certificates: [{cert: cert.pem, key: key.pem}]}, or remove http3`,
		}},
		{"off without tls", `listeners:
  - name: web
    address: "127.0.0.1:8080"
    http3: false
` + okUpstream + okRoute, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := parse(filepath.Join(dir, "aya.yaml"), []byte(tc.yaml), noEnv)
			if tc.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				if got := cfg.Listeners[0].HTTP3; got != strings.Contains(tc.yaml, "http3: true") {
					t.Fatalf("HTTP3 = %v", got)
				}
				return
			}
			wantErrors(t, err, dir, tc.want)
		})
	}
}
