package config

import (
	"errors"
	"strings"
	"testing"
)

func TestL4Good(t *testing.T) {
	cfg, err := parse("aya.yaml", []byte(`listeners:
  - {name: web, address: "127.0.0.1:8080"}
  - {name: db, address: "127.0.0.1:5432", protocol: tcp, upstream: pg, proxy_protocol: {accept: true, send: v2}}
  - name: tls
    address: "127.0.0.1:8443"
    protocol: tcp
    sni: {"a.example": a, "*.b.example": b, "*": pg}
  - {name: dns, address: "127.0.0.1:5432", protocol: udp, upstream: dns}
upstreams:
  - {name: app, targets: ["http://127.0.0.1:9001"]}
  - {name: pg, balance: least_conn, health: {interval: 1s}, targets: ["tcp://127.0.0.1:5433", "tcp://127.0.0.1:5434"]}
  - {name: a, targets: ["tcp://127.0.0.1:9443"]}
  - {name: b, targets: ["tcp://127.0.0.1:9444"]}
  - {name: dns, balance: ip_hash, targets: ["udp://127.0.0.1:5353", "udp://[::1]:5353"]}
routes: [{name: all, upstream: app}]
`), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	db := cfg.Listeners[1]
	if !db.IsL4() || db.ProxyProtocol == nil || !db.ProxyProtocol.Accept || db.ProxyProtocol.Send != ProxyProtocolV2 {
		t.Errorf("db listener = %+v", db)
	}
	if got := cfg.Listeners[2].L4Upstreams(); strings.Join(got, ",") != "a,b,pg" {
		t.Errorf("L4Upstreams = %v", got)
	}
	pg := cfg.Upstreams[1]
	if pg.Targets[0].Scheme != SchemeTCP || pg.Targets[0].Host != "127.0.0.1:5433" || pg.Health.Type != HealthTCP {
		t.Errorf("pg = %+v, health %+v", pg.Targets[0], pg.Health)
	}
	dns := cfg.Upstreams[4]
	if dns.Targets[1].Host != "[::1]:5353" || dns.Outlier == nil || dns.Outlier.ConsecutiveConnectFailures != 1 {
		t.Errorf("dns = %+v, outlier %+v", dns.Targets[1], dns.Outlier)
	}
	if cfg.Upstreams[0].Outlier != nil {
		t.Error("an http upstream got an outlier default")
	}
}

func TestL4Bad(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown protocol", `listeners: [{name: x, address: "127.0.0.1:1", protocol: sctp, upstream: pg}]
upstreams: [{name: pg, targets: ["tcp://127.0.0.1:2"]}]
`, []string{`1: listener "x": unknown protocol "sctp": use http, tcp or udp`}},
		{"no upstream", `listeners: [{name: x, address: "127.0.0.1:1", protocol: tcp}]
`, []string{`1: listener "x": a tcp listener needs upstream`}},
		{"http target in tcp upstream", `listeners: [{name: x, address: "127.0.0.1:1", protocol: tcp, upstream: pg}]
upstreams:
  - name: pg
    targets:
      - "http://127.0.0.1:2"
`, []string{`5: listener "x": upstream "pg" target "http://127.0.0.1:2": a tcp listener's upstream holds only tcp:// targets`}},
		{"route uses tcp upstream", `listeners:
  - {name: x, address: "127.0.0.1:1", protocol: tcp, upstream: pg}
  - {name: web, address: "127.0.0.1:3"}
upstreams: [{name: pg, targets: ["tcp://127.0.0.1:2"]}]
routes:
  - {name: r, upstream: pg}
`, []string{`6: route "r": upstream "pg" is a tcp upstream`}},
		{"route on tcp listener", `listeners:
  - {name: x, address: "127.0.0.1:1", protocol: tcp, upstream: pg}
  - {name: web, address: "127.0.0.1:3"}
upstreams: [{name: pg, targets: ["tcp://127.0.0.1:2"]}, {name: app, targets: ["http://127.0.0.1:4"]}]
routes:
  - {name: r, upstream: app, listeners: [x]}
`, []string{`6: route "r": listener "x" is a tcp/udp listener`}},
		{"route uses an upstream of tcp targets", `listeners: [{name: web, address: "127.0.0.1:3"}]
upstreams:
  - {name: app, targets: ["tcp://127.0.0.1:4"]}
routes:
  - {name: r, upstream: app}
`, []string{`5: route "r": upstream "app" is a tcp upstream (tcp:// targets, for tcp and udp listeners): a route needs one of http:// targets`}},
		{"http and tcp targets mixed", `listeners: [{name: web, address: "127.0.0.1:3"}]
upstreams:
  - name: app
    targets: ["tcp://127.0.0.1:4", "http://127.0.0.1:5"]
routes: [{name: r, upstream: app}]
`, []string{`4: upstream "app": target "http://127.0.0.1:5" is HTTP but the upstream's other targets are tcp://`}},
		{"tcp target needs a port", `listeners: [{name: x, address: "127.0.0.1:1", protocol: tcp, upstream: pg}]
upstreams: [{name: pg, targets: ["tcp://127.0.0.1"]}]
`, []string{`2: upstream "pg" target #1: invalid url "tcp://127.0.0.1": a tcp target needs a port`}},
		{"sni on udp and tls", `listeners:
  - {name: x, address: "127.0.0.1:1", protocol: udp, upstream: d, sni: {"a.example": d}, proxy_protocol: {send: v1}}
upstreams: [{name: d, targets: ["udp://127.0.0.1:2"]}]
`, []string{`2: listener "x": sni reads a TLS ClientHello`, `2: listener "x": proxy_protocol is supported on tcp listeners only`}},
		{"bad sni key and send", `listeners:
  - {name: x, address: "127.0.0.1:1", protocol: tcp, sni: {"A.example": a, "a*b": a}, proxy_protocol: {send: v3}}
upstreams: [{name: a, targets: ["tcp://127.0.0.1:2"]}]
`, []string{`write "A.example" in lower case`, `"a*b" is not a server name`, `send must be v1 or v2, got "v3"`}},
		{"one upstream two protocols", `listeners:
  - {name: x, address: "127.0.0.1:1", protocol: tcp, upstream: a}
  - {name: y, address: "127.0.0.1:1", protocol: udp, upstream: a}
upstreams: [{name: a, targets: ["tcp://127.0.0.1:2"]}]
`, []string{`3: listener "y": upstream "a" already serves listener "x" (tcp)`}},
		{"tcp and http on one address", `listeners:
  - {name: x, address: "127.0.0.1:1", protocol: tcp, upstream: a}
  - {name: web, address: "127.0.0.1:1"}
upstreams: [{name: a, targets: ["tcp://127.0.0.1:2"]}]
`, []string{`3: listener "web": address "127.0.0.1:1" overlaps listener "x"`}},
		{"hash key of a header", `listeners: [{name: x, address: "127.0.0.1:1", protocol: tcp, upstream: a}]
upstreams: [{name: a, balance: maglev, hash_key: "header:X-User", targets: ["tcp://127.0.0.1:2"]}]
`, []string{`listener "x": upstream "a": hash_key header:X-User reads HTTP requests`}},
		{"upstream on http listener", `listeners: [{name: web, address: "127.0.0.1:1", upstream: a}]
upstreams: [{name: a, targets: ["http://127.0.0.1:2"]}]
routes: [{name: r, upstream: a}]
`, []string{`1: listener "web": upstream is for tcp and udp listeners`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse("aya.yaml", []byte(tc.yaml), noEnv)
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v, want config errors", err)
			}
			got := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("missing %q in:\n%s", w, got)
				}
			}
		})
	}
}
