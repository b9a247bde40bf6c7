package config

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// contract is the config from the gateway contract, extended with the upstream the rpc
// route needs.
const contract = `listeners:
  - {name: web, address: "127.0.0.1:8080", timeouts: {read_header: 10s, idle: 60s}}
  - {name: tls, address: "127.0.0.1:8443", tls: {certificates: [{cert: a.pem, key: a.key}]}}  # h2 via ALPN
  - {name: grpc, address: "127.0.0.1:8081", h2c: true}
upstreams:
  - name: app
    balance: round_robin
    targets:
      - {url: "http://127.0.0.1:9001", weight: 1}
  - {name: rpc, targets: [{url: "h2c://127.0.0.1:9002"}]}
routes:
  - name: all
    listeners: [web]            # optional; default all
    match: {host: "*.example.com", path: "/*", methods: [GET], headers: {x-env: canary}, query: {v: "2"}}
    request_headers: {set: {X-Env: prod}, add: {}, remove: [X-Debug]}
    response_headers: {set: {X-Served-By: aya}}
    upstream: app
  - {name: rpc, listeners: [grpc], match: {path: "/*"}, upstream: rpc}   # rpc: targets "h2c://host:port"
  - {name: fallback, upstream: app}
admin: {address: "127.0.0.1:9901"}
`

func TestLoadContract(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "a")
	file := filepath.Join(dir, "aya.yaml")
	write(t, file, contract)
	cfg, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.File != file {
		t.Errorf("File = %q", cfg.File)
	}
	var names []string
	for _, l := range cfg.Listeners {
		names = append(names, l.Name)
	}
	if got := strings.Join(names, ","); got != "web,tls,grpc" {
		t.Errorf("listeners = %s", got)
	}
	tl := cfg.Listeners[1]
	if tl.Line != 3 || tl.TLS == nil || tl.TLS.Certificates[0].Cert != filepath.Join(dir, "a.pem") || tl.TLS.Certificates[0].Key != filepath.Join(dir, "a.key") {
		t.Errorf("tls listener = %+v tls %+v", tl, tl.TLS)
	}
	if tl.TLS.ClientAuth != ClientAuthNone || tl.TLS.MinTLSVersion() != 0x0303 {
		t.Errorf("tls defaults = %+v", tl.TLS)
	}
	if !cfg.Listeners[2].H2C {
		t.Error("grpc listener lost h2c")
	}
	rpc := cfg.Upstreams[1].Targets[0]
	if rpc.Scheme != SchemeH2C || rpc.Host != "127.0.0.1:9002" || rpc.Protocol != ProtocolH2 || rpc.Line != 10 {
		t.Errorf("rpc target = %+v", rpc)
	}
	r := cfg.Routes[0]
	wantMatch := Match{Line: 14, Host: "*.example.com", Path: "/*", Methods: []string{"GET"},
		Headers: map[string]string{"x-env": "canary"}, Query: map[string]string{"v": "2"}}
	if !reflect.DeepEqual(r.Match, wantMatch) {
		t.Errorf("match = %+v", r.Match)
	}
	wantReq := HeaderOps{Set: map[string]string{"X-Env": "prod"}, Add: map[string]string{}, Remove: []string{"X-Debug"}}
	if !reflect.DeepEqual(r.RequestHeaders, wantReq) || r.ResponseHeaders.Set["X-Served-By"] != "aya" {
		t.Errorf("header ops = %+v / %+v", r.RequestHeaders, r.ResponseHeaders)
	}
	if r.Line != 12 || r.Upstream != "app" || !reflect.DeepEqual(r.Listeners, []string{"web"}) {
		t.Errorf("route = %+v", r)
	}
	if got := cfg.Routes[2].Listeners; !reflect.DeepEqual(got, []string{"web", "tls", "grpc"}) {
		t.Errorf("route without listeners serves on %v, want all", got)
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := parse("aya.yaml", []byte(okListener+okUpstream+okRoute), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	wantListener := Listener{
		Line: 1, Name: "web", Address: "127.0.0.1:8080", Protocol: "http",
		Timeouts: ListenerTimeouts{
			ReadHeader: Duration(10 * time.Second), Idle: Duration(60 * time.Second),
			BodyRead: Duration(60 * time.Second), Write: Duration(60 * time.Second),
		},
		Limits: ListenerLimits{MaxRequestLine: 8 << 10, MaxHeaderBytes: 64 << 10, MaxHeaderCount: 100},
		H2:     ListenerH2{MaxConcurrentStreams: 250},
	}
	if !reflect.DeepEqual(cfg.Listeners[0], wantListener) {
		t.Errorf("listener:\n got %+v\nwant %+v", cfg.Listeners[0], wantListener)
	}
	wantUpstream := Upstream{
		Line: 2, Name: "app", Balance: BalanceRoundRobin, HashKey: HashKey{Kind: HashIP},
		Targets: []Target{{Line: 2, URL: "http://127.0.0.1:9001", Weight: 1, Protocol: ProtocolH1, Scheme: "http", Host: "127.0.0.1:9001"}},
		Timeouts: UpstreamTimeouts{
			Connect: Duration(5 * time.Second), TLSHandshake: Duration(10 * time.Second),
			ResponseHeader: Duration(60 * time.Second), Idle: Duration(90 * time.Second),
			Read: Duration(60 * time.Second), Write: Duration(60 * time.Second),
		},
		Pool:           Pool{MaxIdle: 64},
		PanicThreshold: 0.5,
		Retries: Retries{
			Attempts: 1, On: []string{RetryConnectError},
			Backoff: Duration(25 * time.Millisecond), MaxBackoff: Duration(250 * time.Millisecond), MaxBody: 64 << 10,
		},
	}
	if !reflect.DeepEqual(cfg.Upstreams[0], wantUpstream) {
		t.Errorf("upstream:\n got %+v\nwant %+v", cfg.Upstreams[0], wantUpstream)
	}
	r := cfg.Routes[0]
	if r.Timeout != 0 || r.MaxBody != 0 || r.PreserveHost != nil || r.Match.Line != 3 || !reflect.DeepEqual(r.Listeners, []string{"web"}) {
		t.Errorf("route = %+v", r)
	}
	if cfg.Admin.Address != "127.0.0.1:9901" || cfg.Shutdown.DrainTimeout.D() != 30*time.Second ||
		cfg.Log != (Log{Level: "info", Format: "json", Output: "stderr", MaxSize: 100 << 20, MaxFiles: 5}) {
		t.Errorf("admin %+v shutdown %+v log %+v", cfg.Admin, cfg.Shutdown, cfg.Log)
	}
}

func TestExplicitValuesOverrideDefaults(t *testing.T) {
	cfg, err := parse("aya.yaml", []byte(`listeners:
  - name: web
    address: ":8080"
    timeouts: {idle: 5m, write: 1m30s}
    limits: {max_request_line: 16KiB, max_header_bytes: 1MB, max_conns: 1000, max_conns_per_ip: 10}
    trusted_proxies: [10.0.0.0/8, 192.168.1.1, "::1", 172.16.5.4/12]
upstreams:
  - name: app
    balance: consistent_hash
    hash_key: header:X-User
    targets: [{url: "https://api.internal", weight: 3, protocol: h2}]
    tls: {server_name: api.internal, insecure_skip_verify: true}
    pool: {max_idle: 0}
routes:
  - name: a
    upstream: app
    match: {host: "API.Example.com", path: "~^/v[0-9]+/", methods: [get, Post]}
    strip_prefix: /api
    timeout: 2s
    max_body: 10MB
    preserve_host: false
  - {name: b, upstream: app, match: {host: "*", path: "/users/{id}/*"}}
admin: {address: "0.0.0.0:9901", token: secret}
shutdown: {drain_timeout: 5s}
log: {level: debug, format: text}
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Listeners[0]
	if l.Timeouts.Idle.D() != 5*time.Minute || l.Timeouts.Write.D() != 90*time.Second || l.Timeouts.ReadHeader.D() != 10*time.Second {
		t.Errorf("timeouts = %+v", l.Timeouts)
	}
	if l.Limits != (ListenerLimits{MaxConns: 1000, MaxConnsPerIP: 10, MaxRequestLine: 16 << 10, MaxHeaderBytes: 1 << 20, MaxHeaderCount: 100}) {
		t.Errorf("limits = %+v", l.Limits)
	}
	wantProxies := []netip.Prefix{
		netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.1/32"),
		netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("172.16.0.0/12"),
	}
	if !reflect.DeepEqual(l.TrustedProxies, wantProxies) {
		t.Errorf("trusted_proxies = %v", l.TrustedProxies)
	}
	u := cfg.Upstreams[0]
	if u.HashKey != (HashKey{Kind: HashHeader, Name: "X-User"}) || u.Pool != (Pool{MaxIdle: 0}) {
		t.Errorf("upstream = %+v", u)
	}
	if tg := u.Targets[0]; tg.Host != "api.internal:443" || tg.Protocol != ProtocolH2 || tg.Weight != 3 {
		t.Errorf("target = %+v", tg)
	}
	if u.TLS == nil || !u.TLS.InsecureSkipVerify || u.TLS.ServerName != "api.internal" {
		t.Errorf("upstream tls = %+v", u.TLS)
	}
	r := cfg.Routes[0]
	if r.Match.Host != "api.example.com" || r.Match.Path != "" || r.Match.PathRegex != "^/v[0-9]+/" ||
		!reflect.DeepEqual(r.Match.Methods, []string{"GET", "POST"}) {
		t.Errorf("match = %+v", r.Match)
	}
	if r.StripPrefix != "/api" || r.Timeout.D() != 2*time.Second || r.MaxBody != 10<<20 || r.PreserveHost == nil || *r.PreserveHost {
		t.Errorf("route = %+v", r)
	}
	if m := cfg.Routes[1].Match; m.Host != "" || m.Path != "/users/{id}/*" {
		t.Errorf("match b = %+v", m)
	}
	if cfg.Admin.Token != "secret" || cfg.Shutdown.DrainTimeout.D() != 5*time.Second || cfg.Log != (Log{Level: "debug", Format: "text", Output: "stderr", MaxSize: 100 << 20, MaxFiles: 5}) {
		t.Errorf("admin %+v shutdown %+v log %+v", cfg.Admin, cfg.Shutdown, cfg.Log)
	}
}

func TestEnvExpansion(t *testing.T) {
	env := envMap(map[string]string{"ADDR": "127.0.0.1:8080", "URL": "http://127.0.0.1:9001", "W": "5", "EMPTY": "", "TOKEN": "s3cr$t"})
	cfg, err := parse("aya.yaml", []byte(`# ${UNSET_IN_COMMENT} is not expanded
listeners: [{name: web, address: ${ADDR}}]   # flow mappings work unquoted: ${ALSO_UNSET}
upstreams: [{name: app, targets: [{url: ${URL}, weight: ${W}}]}]
routes:
  - name: all
    upstream: ${UP:-app}
    request_headers: {set: {X-A: "${EMPTY:-fallback}", X-B: "$${LITERAL}", X-C: "a#${W}", X-D: "cost $5"}}
admin: {address: "${ADMIN:-127.0.0.1:9901}", token: "${TOKEN}"}
`), env)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listeners[0].Address != "127.0.0.1:8080" || cfg.Upstreams[0].Targets[0].Weight != 5 || cfg.Routes[0].Upstream != "app" {
		t.Errorf("expanded config = %+v", cfg)
	}
	want := map[string]string{"X-A": "fallback", "X-B": "${LITERAL}", "X-C": "a#5", "X-D": "cost $5"}
	if got := cfg.Routes[0].RequestHeaders.Set; !reflect.DeepEqual(got, want) {
		t.Errorf("set = %v, want %v", got, want)
	}
	if cfg.Admin.Token != "s3cr$t" {
		t.Errorf("token = %q", cfg.Admin.Token)
	}
}

func TestParseUsesProcessEnvironment(t *testing.T) {
	t.Setenv("AYA_CONFIG_TEST_PORT", "8099")
	cfg, err := Parse("aya.yaml", []byte(`listeners: [{name: web, address: "127.0.0.1:${AYA_CONFIG_TEST_PORT}"}]
`+okUpstream+okRoute))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listeners[0].Address != "127.0.0.1:8099" {
		t.Errorf("address = %q", cfg.Listeners[0].Address)
	}
}

func TestTargetShorthand(t *testing.T) {
	cfg, err := parse("aya.yaml", []byte(okListener+`upstreams:
  - name: app
    targets:
      - http://127.0.0.1:9001
      - {url: "http://127.0.0.1:9002", weight: 2}
`+okRoute), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := []Target{
		{Line: 5, URL: "http://127.0.0.1:9001", Weight: 1, Protocol: ProtocolH1, Scheme: "http", Host: "127.0.0.1:9001"},
		{Line: 6, URL: "http://127.0.0.1:9002", Weight: 2, Protocol: ProtocolH1, Scheme: "http", Host: "127.0.0.1:9002"},
	}
	if got := cfg.Upstreams[0].Targets; !reflect.DeepEqual(got, want) {
		t.Errorf("targets:\n got %+v\nwant %+v", got, want)
	}
	_, err = parse("aya.yaml", []byte(okListener+"upstreams: [{name: app, targets: [ftp://x]}]\n"+okRoute), noEnv)
	if want := `aya.yaml:2: upstream "app" target #1: invalid url "ftp://x": unsupported scheme "ftp", use http, https or h2c`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	cfg, err := parse("aya.yaml", []byte(`x-timeouts: &fast {connect: 1s, read: 2s}
x-target: &t {url: "http://127.0.0.1:9001", weight: 2}
listeners: [{name: web, address: "127.0.0.1:8080"}]
upstreams:
  - name: a
    timeouts: {<<: *fast, read: 3s}
    targets: [*t]
  - name: b
    timeouts: *fast
    targets: [{<<: *t, url: "http://127.0.0.1:9002"}]
routes: [{name: all, upstream: a}]
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Upstreams[0], cfg.Upstreams[1]
	if a.Timeouts.Connect.D() != time.Second || a.Timeouts.Read.D() != 3*time.Second || a.Timeouts.Idle.D() != 90*time.Second {
		t.Errorf("a timeouts = %+v", a.Timeouts)
	}
	if b.Timeouts.Read.D() != 2*time.Second || b.Targets[0].Weight != 2 || b.Targets[0].URL != "http://127.0.0.1:9002" {
		t.Errorf("b = %+v", b)
	}
	if a.Targets[0].Weight != 2 {
		t.Errorf("a target = %+v", a.Targets[0])
	}
}

func TestLoadErrors(t *testing.T) {
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	if _, err := Load(t.TempDir()); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "aya.yaml")
	write(t, file, okListener+okUpstream+"routes: [{name: all, upstream: nope}]\n")
	_, err := Load(file)
	want := file + `:3: route "all": upstream "nope" is not defined`
	if err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}

func TestRelativePathsFollowTheConfigFile(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "certs")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	writeCert(t, sub, "a")
	writeCert(t, sub, "ca")
	file := filepath.Join(dir, "aya.yaml")
	write(t, file, `listeners:
  - name: tls
    address: "127.0.0.1:8443"
    tls: {certificates: [{cert: certs/a.pem, key: certs/a.key}], client_ca: certs/ca.pem, min_version: "1.3"}
upstreams:
  - name: app
    targets: [{url: "https://127.0.0.1:9001"}]
    tls: {ca: certs/ca.pem, cert: certs/a.pem, key: certs/a.key}
`+okRoute)
	t.Chdir(t.TempDir()) // the working directory must not matter
	cfg, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	lt := cfg.Listeners[0].TLS
	if lt.ClientCA != filepath.Join(sub, "ca.pem") || lt.ClientAuth != ClientAuthRequire || lt.MinTLSVersion() != 0x0304 {
		t.Errorf("listener tls = %+v", lt)
	}
	if lt.ClientAuthType().String() != "RequireAndVerifyClientCert" {
		t.Errorf("client auth type = %v", lt.ClientAuthType())
	}
	ut := cfg.Upstreams[0].TLS
	if ut.CA != filepath.Join(sub, "ca.pem") || ut.Cert != filepath.Join(sub, "a.pem") || ut.Key != filepath.Join(sub, "a.key") {
		t.Errorf("upstream tls = %+v", ut)
	}
}

func TestErrorFormat(t *testing.T) {
	es := Errors{{File: "a.yaml", Line: 3, Msg: "x"}, {File: "a.yaml", Msg: "y"}}
	if got := es.Error(); got != "a.yaml:3: x\na.yaml: y" {
		t.Errorf("Errors.Error() = %q", got)
	}
}

func TestParseWithoutFileName(t *testing.T) {
	_, err := Parse("", []byte(okListener+okUpstream+"routes: [{name: all, upstream: x}]\n"))
	if want := `config:3: route "all": upstream "x" is not defined`; err == nil || err.Error() != want {
		t.Errorf("err = %v, want %s", err, want)
	}
}
