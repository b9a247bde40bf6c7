package config

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestObserveDefaults(t *testing.T) {
	cfg, err := parse("aya.yaml", []byte(okListener+okUpstream+okRoute), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := AccessLog{Enabled: true, Format: "json", Output: "stdout", MaxSize: 100 << 20, MaxFiles: 5, Sample: 1, Buffer: 4 << 20}
	if cfg.AccessLog != want {
		t.Errorf("access_log = %+v, want %+v", cfg.AccessLog, want)
	}
	if cfg.Tracing != nil {
		t.Errorf("tracing is on by default: %+v", cfg.Tracing)
	}
	if cfg.Routes[0].AccessLog != nil {
		t.Errorf("route access_log = %v", *cfg.Routes[0].AccessLog)
	}
}

func TestObserveExplicit(t *testing.T) {
	dir := t.TempDir()
	cfg, err := parse(filepath.Join(dir, "aya.yaml"), []byte(okListener+okUpstream+`routes: [{name: all, upstream: app, access_log: false}]
log: {output: aya.log, max_files: 2}
access_log:
  format: common
  output: access.log
  max_size: 10MB
  sample: 10%
tracing:
  endpoint: http://127.0.0.1:4317
  headers: {x-api-key: abc}
  sample: 0.25
  flush_interval: 100ms
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.AccessLog
	if a.Format != "common" || a.Output != filepath.Join(dir, "access.log") || a.MaxSize != 10<<20 || a.Sample != 0.1 {
		t.Errorf("access_log = %+v", a)
	}
	if cfg.Log.Output != filepath.Join(dir, "aya.log") || cfg.Log.MaxFiles != 2 {
		t.Errorf("log = %+v", cfg.Log)
	}
	tr := cfg.Tracing
	if tr == nil || tr.Protocol != "grpc" || tr.Sample != 0.25 || tr.ServiceName != "aya" || tr.FlushInterval.D() != 100*time.Millisecond ||
		tr.Timeout.D() != 10*time.Second || tr.Headers["x-api-key"] != "abc" || tr.Line != 10 {
		t.Errorf("tracing = %+v", tr)
	}
	if r := cfg.Routes[0]; r.AccessLog == nil || *r.AccessLog {
		t.Errorf("route access_log = %v", r.AccessLog)
	}
	if l, ok := cfg.ValueLine("access_log.sample"); !ok || l != 9 {
		t.Errorf("ValueLine(access_log.sample) = %d, %v", l, ok)
	}
	if _, ok := cfg.ValueLine("access_log.buffer"); ok {
		t.Error("a default has no line")
	}
}

func TestObserveBad(t *testing.T) {
	base := okListener + okUpstream + okRoute
	tests := []struct{ yaml, want string }{
		{"access_log: {format: xml}\n", `4: access_log: invalid format "xml": use json or common`},
		{"access_log: {sample: 150%}\n", `4: access_log: sample must be at most 100%`},
		{"access_log: {buffer: 1KB}\n", `4: access_log: buffer 1KB is too small`},
		{"access_log: {output: /nonexistent-dir/a.log}\n", `4: access_log: output "/nonexistent-dir/a.log": directory /nonexistent-dir does not exist`},
		{"access_log: {max_files: -1}\n", `4: access_log: max_files must not be negative`},
		{"log: {output: /nonexistent-dir/a.log}\n", `4: log: output "/nonexistent-dir/a.log": directory`},
		{"tracing: {protocol: grpc}\n", `4: tracing: endpoint is required`},
		{"tracing:\n  endpoint: 127.0.0.1:4317\n", `5: tracing: endpoint "127.0.0.1:4317": write the collector's URL with http://`},
		{"tracing: {endpoint: \"http://c:4317\", protocol: grcp}\n", `4: tracing: invalid protocol "grcp": use grpc or http (did you mean "grpc"?)`},
		{"tracing: {endpoint: \"http://c:4317\", timeout: 0s}\n", `4: tracing: timeout must be more than 0`},
	}
	for _, tc := range tests {
		_, err := parse("aya.yaml", []byte(base+tc.yaml), noEnv)
		var es Errors
		if !errors.As(err, &es) || len(es) == 0 || !strings.HasPrefix(es[0].Error(), "aya.yaml:"+tc.want) {
			t.Errorf("%q:\n got %v\nwant aya.yaml:%s", tc.yaml, err, tc.want)
		}
	}
}

func TestView(t *testing.T) {
	cfg, err := parse("aya.yaml", []byte(okListener+okUpstream+okRoute+`admin: {token: s3cret}
tracing: {endpoint: "http://c:4317", headers: {authorization: Bearer x}}
alerts:
  webhooks: [{url: "http://hook", headers: {X-Api-Key: k1, X-Team: ops}}]
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	v := NewView(cfg)
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, secret := range []string{"s3cret", "Bearer x", "k1"} {
		if strings.Contains(s, secret) {
			t.Errorf("view shows the secret %q: %s", secret, s)
		}
	}
	if !strings.Contains(s, `"X-Team":"ops"`) {
		t.Errorf("a plain header was hidden: %s", s)
	}
	admin := v.Config["admin"].(map[string]any)
	if admin["token"] != Redacted || admin["address"] != "127.0.0.1:9901" {
		t.Errorf("admin = %v", admin)
	}
	if got := v.Config["listeners"].([]any)[0].(map[string]any)["timeouts"].(map[string]any)["idle"]; got != "1m0s" {
		t.Errorf("a Duration renders as text: %v", got)
	}
	for path, want := range map[string]string{
		"listeners[0].address":          "aya.yaml:1",
		"admin.token":                   "aya.yaml:4",
		"admin.address":                 "default",
		"access_log.format":             "default",
		"routes[0].upstream":            "aya.yaml:3",
		"upstreams[0].balance":          "default",
		"tracing.headers.authorization": "aya.yaml:5",
	} {
		if got := v.Origins[path]; got != want {
			t.Errorf("origin of %s = %q, want %q", path, got, want)
		}
	}
}
