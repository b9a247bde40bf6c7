package config

import (
	"path/filepath"
	"testing"
)

// A small valid config the bad cases below start from, one object per line.
const (
	okListener = "listeners: [{name: web, address: \"127.0.0.1:8080\"}]\n"
	okUpstream = "upstreams: [{name: app, targets: [{url: \"http://127.0.0.1:9001\"}]}]\n"
	okRoute    = "routes: [{name: all, upstream: app}]\n"
)

func TestParseBad(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, "a")
	writeCert(t, dir, "b")
	write(t, filepath.Join(dir, "junk.pem"), "not a certificate\n")

	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want []string // "line: reason"; the file name is prepended
	}{
		{"unknown key with suggestion", okListener + `upstreams:
  - name: app
    balanse: round_robin
    targets: [{url: "http://127.0.0.1:9001"}]
` + okRoute, nil, []string{
			`4: unknown key "balanse" in upstream "app" (did you mean "balance"?)`,
		}},
		{"unknown top-level key", "listner: []\n" + okListener + okUpstream + okRoute, nil, []string{
			`1: unknown key "listner" at the top level (did you mean "listeners"?)`,
		}},
		{"unknown key without suggestion", okListener + okUpstream + okRoute + "admin: {adress: x, color: red}\n", nil, []string{
			`4: unknown key "adress" in admin (did you mean "address"?)`,
			`4: unknown key "color" in admin`,
		}},
		{"wrong type int", okListener + `upstreams:
  - name: app
    targets:
      - {url: "http://127.0.0.1:9001", weight: abc}
` + okRoute, nil, []string{
			`5: upstream "app" target #1: weight: want an integer, got "abc"`,
		}},
		{"wrong type list", "listeners: {name: web}\n" + okUpstream + okRoute, nil, []string{
			`1: listeners: want a list, got a mapping`,
		}},
		{"scalar where a list is wanted", okListener + okUpstream + "routes: [{name: all, upstream: app, match: {methods: GET}}]\n", nil, []string{
			`3: route "all" match: methods: want a list, got "GET" (write [GET] for a list of one)`,
		}},
		{"wrong type bool", "listeners: [{name: web, address: \"127.0.0.1:8080\", h2c: maybe}]\n" + okUpstream + okRoute, nil, []string{
			`1: listener "web": h2c: want true or false, got "maybe"`,
		}},
		{"duplicate listener name", `listeners:
  - {name: web, address: "127.0.0.1:8080"}
  - {name: web, address: "127.0.0.1:8081"}
` + okUpstream + okRoute, nil, []string{
			`3: listener "web": duplicate name (first defined at line 2)`,
		}},
		{"route references unknown upstream", okListener + okUpstream + `routes:
  - name: all
    upstream: apq
`, nil, []string{
			`5: route "all": upstream "apq" is not defined (did you mean "app"?)`,
		}},
		{"route references unknown listener", okListener + okUpstream + `routes:
  - name: all
    listeners: [web, grpc]
    upstream: app
`, nil, []string{
			`5: route "all": listener "grpc" is not defined`,
		}},
		{"listener without address", "listeners: [{name: web}]\n" + okUpstream + okRoute, nil, []string{
			`1: listener "web": address is required: write host:port, like 127.0.0.1:8080 or :8080`,
		}},
		{"bad address", `listeners:
  - {name: a, address: "127.0.0.1"}
  - {name: b, address: "127.0.0.1:99999"}
  - {name: c, address: "8080"}
  - {name: d, address: "bad host:80"}
` + okUpstream + "routes: [{name: all, upstream: app, listeners: [a]}]\n", nil, []string{
			`2: listener "a": invalid address "127.0.0.1": write host:port, like 127.0.0.1:8080, [::1]:8080 or :8080`,
			`3: listener "b": invalid address "127.0.0.1:99999": port must be a number from 1 to 65535`,
			`4: listener "c": invalid address "8080": missing host, write :8080 for all interfaces or 127.0.0.1:8080`,
			`5: listener "d": invalid address "bad host:80": "bad host" is neither an IP address nor a host name`,
		}},
		{"bad target urls", okListener + `upstreams:
  - name: app
    targets:
      - url: "ftp://127.0.0.1:21"
      - url: "http://127.0.0.1:9001/base"
      - url: "127.0.0.1:9002"
      - url: "http://:9003"
      - url: "http://u:p@127.0.0.1:9004"
` + okRoute, nil, []string{
			`5: upstream "app" target #1: invalid url "ftp://127.0.0.1:21": unsupported scheme "ftp", use http, https or h2c`,
			`6: upstream "app" target #2: invalid url "http://127.0.0.1:9001/base": a target has no path (aya forwards the request path; use a route's strip_prefix to change it)`,
			`7: upstream "app" target #3: invalid url "127.0.0.1:9002": write scheme://host:port, like http://127.0.0.1:9000`,
			`8: upstream "app" target #4: invalid url "http://:9003": missing host`,
			`9: upstream "app" target #5: invalid url "http://u:p@127.0.0.1:9004": user info is not supported; set an Authorization header with request_headers instead`,
		}},
		{"weight below 1", okListener + `upstreams:
  - name: app
    targets:
      - url: "http://127.0.0.1:9001"
        weight: 0
` + okRoute, nil, []string{
			`6: upstream "app" target #1: weight must be from 1 to 1000000, got 0`,
		}},
		{"unknown balance", okListener + `upstreams:
  - name: app
    balance: least_con
    targets: [{url: "http://127.0.0.1:9001"}]
` + okRoute, nil, []string{
			`4: upstream "app": unknown balance algorithm "least_con" (did you mean "least_conn"?); valid: round_robin, weighted_round_robin, least_conn, weighted_least_conn, random, p2c, least_time, ip_hash, consistent_hash, maglev`,
		}},
		{"bad hash_key", okListener + `upstreams:
  - {name: app, balance: maglev, hash_key: "header:", targets: [{url: "http://127.0.0.1:9001"}]}
  - {name: b, balance: maglev, hash_key: user, targets: [{url: "http://127.0.0.1:9001"}]}
` + okRoute, nil, []string{
			`3: upstream "app": hash_key: invalid hash_key "header:": write header:NAME`,
			`4: upstream "b": hash_key: invalid hash_key "user": use ip, path, header:NAME, cookie:NAME or query:NAME`,
		}},
		{"bad regex", okListener + okUpstream + `routes:
  - name: a
    match: {path_regex: "^/v[0-9+/"}
    upstream: app
  - name: b
    match: {path: "~^(x"}
    upstream: app
`, nil, []string{
			"5: route \"a\" match: invalid path regex \"^/v[0-9+/\": error parsing regexp: missing closing ]: `[0-9+/`",
			"8: route \"b\" match: invalid path regex \"^(x\": error parsing regexp: missing closing ): `^(x`",
		}},
		{"bad path patterns", okListener + okUpstream + `routes:
  - {name: a, upstream: app, match: {path: "/a/*/b"}}
  - {name: b, upstream: app, match: {path: "/users/{id"}}
  - {name: c, upstream: app, match: {path: "/api*"}}
  - {name: d, upstream: app, match: {path: "api/"}}
  - {name: e, upstream: app, match: {path: "/f.{ext}"}}
  - {name: f, upstream: app, match: {path: "/{id}/{id}"}}
  - {name: g, upstream: app, match: {path: "/a//b"}}
  - {name: h, upstream: app, match: {path: "/café"}}
`, nil, []string{
			`4: route "a" match: invalid path "/a/*/b": * is allowed only as the last segment, like "/api/*"`,
			`5: route "b" match: invalid path "/users/{id": unbalanced { }: write parameters like "/users/{id}"`,
			`6: route "c" match: invalid path "/api*": * must be a whole last segment, like "/api/*" (or use a regex)`,
			`7: route "d" match: invalid path "api/": must start with /, like "/api/*" (or "~regex" for a regex)`,
			`8: route "e" match: invalid path "/f.{ext}": a parameter must be a whole segment, like "/users/{id}"`,
			`9: route "f" match: invalid path "/{id}/{id}": parameter {id} appears twice`,
			`10: route "g" match: invalid path "/a//b": empty segment ("//")`,
			`11: route "h" match: invalid path "/café": percent-encode non-ASCII characters, as clients send them`,
		}},
		{"tls files missing or not loading", `listeners:
  - name: tls
    address: "127.0.0.1:8443"
    tls:
      certificates:
        - {cert: missing.pem, key: a.key}
        - {cert: a.pem, key: b.key}
        - {cert: junk.pem, key: a.key}
        - {key: a.key}
` + okUpstream + okRoute, nil, []string{
			`6: listener "tls" tls certificate #1: cannot read cert: open DIR/missing.pem: no such file or directory`,
			`7: listener "tls" tls certificate #2: cert DIR/a.pem and key DIR/b.key do not load as a pair: tls: private key does not match public key`,
			`8: listener "tls" tls certificate #3: cert DIR/junk.pem and key DIR/a.key do not load as a pair: tls: failed to find any PEM data in certificate input`,
			`9: listener "tls" tls certificate #4: cert is required (a PEM certificate chain file)`,
		}},
		{"tls options", `listeners:
  - name: tls
    address: "127.0.0.1:8443"
    h2c: true
    tls:
      certificates: [{cert: a.pem, key: a.key}]
      min_version: 1.1
      client_auth: require
` + okUpstream + okRoute, nil, []string{
			`4: listener "tls": h2c is for plain listeners; a TLS listener offers HTTP/2 through ALPN already, remove h2c`,
			`7: listener "tls" tls: min_version must be "1.2" or "1.3", got "1.1"`,
			`8: listener "tls" tls: client_auth require needs client_ca, the CA bundle client certificates are verified against`,
		}},
		{"empty targets", okListener + `upstreams:
  - name: app
    targets: []
` + okRoute, nil, []string{
			`4: upstream "app": targets is empty: add at least one, like {url: "http://127.0.0.1:9000"}`,
		}},
		{"duplicate and overlapping addresses", `listeners:
  - {name: a, address: "127.0.0.1:8080"}
  - {name: b, address: "127.0.0.1:8080"}
  - {name: c, address: ":8080"}
  - {name: d, address: "127.0.0.1:0"}
  - {name: e, address: "127.0.0.1:0"}
` + okUpstream + okRoute, nil, []string{
			`3: listener "b": address "127.0.0.1:8080" overlaps listener "a" (127.0.0.1:8080, line 2): two listeners cannot bind it`,
			`4: listener "c": address ":8080" overlaps listener "a" (127.0.0.1:8080, line 2): two listeners cannot bind it`,
		}},
		{"admin not loopback without token", okListener + okUpstream + okRoute + "admin:\n  address: \"0.0.0.0:9901\"\n", nil, []string{
			`5: admin: address "0.0.0.0:9901" is not loopback, so a token is required: set admin.token (for example token: ${AYA_ADMIN_TOKEN}) or bind to 127.0.0.1`,
		}},
		{"admin overlaps a listener", okListener + okUpstream + okRoute + "admin: {address: \"127.0.0.1:8080\"}\n", nil, []string{
			`4: admin: address "127.0.0.1:8080" overlaps listener "web" (127.0.0.1:8080, line 1): use another port`,
		}},
		{"invalid CIDR", `listeners:
  - name: web
    address: "127.0.0.1:8080"
    trusted_proxies:
      - 10.0.0.0/8
      - 10.0.0.0/33
      - proxy.local
` + okUpstream + okRoute, nil, []string{
			`6: listener "web": trusted_proxies #2: invalid CIDR "10.0.0.0/33": write an address or a prefix like 10.0.0.0/8 or fd00::/8`,
			`7: listener "web": trusted_proxies #3: invalid CIDR "proxy.local": write an address or a prefix like 10.0.0.0/8 or fd00::/8`,
		}},
		{"bad method names", okListener + okUpstream + `routes:
  - name: all
    upstream: app
    match:
      methods: [GET, "PO ST", "DEL(ETE"]
`, nil, []string{
			`7: route "all" match: invalid method "PO ST": a method is one word like GET or POST`,
			`7: route "all" match: invalid method "DEL(ETE": a method is one word like GET or POST`,
		}},
		{"bad duration and size", `listeners:
  - name: web
    address: "127.0.0.1:8080"
    timeouts: {idle: 60, write: -1s}
    limits: {max_header_bytes: 10XB}
` + okUpstream + okRoute, nil, []string{
			`4: listener "web" timeouts: idle: invalid duration "60": write a number with a unit, like 10s, 500ms or 1m30s`,
			`4: listener "web" timeouts: write: invalid duration "-1s": must not be negative`,
			`5: listener "web" limits: max_header_bytes: invalid size "10XB": write bytes or a number with a unit, like 512, 64KB or 10MB (KB = 1024 bytes)`,
		}},
		{"zero timeouts", `listeners:
  - {name: web, address: "127.0.0.1:8080", timeouts: {idle: 0}}
upstreams:
  - name: app
    targets: [{url: "http://127.0.0.1:9001"}]
    timeouts:
      connect: 0s
` + okRoute, nil, []string{
			`2: listener "web" timeouts: idle must be more than 0; for a very long wait write one, like 24h`,
			`7: upstream "app" timeouts: connect must be more than 0; for a very long wait write one, like 24h`,
		}},
		{"unset environment variables", `listeners:
  - {name: web, address: "${AYA_TEST_ADDR}"}
upstreams: [{name: app, targets: [{url: "${AYA_TEST_URL}"}]}]
` + okRoute + "# a comment may mention ${ANYTHING}\n", nil, []string{
			`2: environment variable AYA_TEST_ADDR is not set: set it or write ${AYA_TEST_ADDR:-default}`,
			`3: environment variable AYA_TEST_URL is not set: set it or write ${AYA_TEST_URL:-default}`,
		}},
		{"bad environment references", "listeners: [{name: web, address: \"${1X}\"}]\nupstreams: \"${OPEN\"\n", nil, []string{
			`1: invalid environment variable reference ${1X}: write ${NAME} or ${NAME:-default} with NAME made of letters, digits and _`,
			`2: unterminated ${ in "${OPEN\"": close it with } (write $${ for a literal ${)`,
		}},
		{"environment value with a line break", "listeners: [{name: web, address: \"${ADDR}\"}]\n", map[string]string{"ADDR": "a\nb"}, []string{
			`1: environment variable ADDR contains a line break, which a config value cannot hold: put multi-line content in a file and reference its path`,
		}},
		{"duplicate key", `listeners:
  - name: web
    address: "127.0.0.1:8080"
    name: web2
` + okUpstream + okRoute, nil, []string{
			`4: listener "web": duplicate key "name" (first at line 2)`,
		}},
		{"h2 protocol on http target", okListener + `upstreams:
  - name: app
    targets:
      - {url: "http://127.0.0.1:9001", protocol: h2}
      - {url: "h2c://127.0.0.1:9002", protocol: h1}
      - {url: "https://127.0.0.1:9003", protocol: h3}
` + okRoute, nil, []string{
			`5: upstream "app" target #1: protocol h2 needs an https target; for cleartext HTTP/2 write the url as h2c://host:port`,
			`6: upstream "app" target #2: an h2c target always speaks HTTP/2; remove protocol h1 or use http://`,
			`7: upstream "app" target #3: invalid protocol "h3": use h1 or h2`,
		}},
		{"duplicate target", okListener + `upstreams:
  - name: app
    targets:
      - url: "http://127.0.0.1:80"
      - url: "HTTP://127.0.0.1"
` + okRoute, nil, []string{
			`6: upstream "app" target #2: duplicate target http://127.0.0.1:80 (first at line 5): raise the weight instead`,
		}},
		{"yaml syntax error", "listeners: [{name: web, address: \"127.0.0.1:8080\"}\n", nil, []string{
			`1: invalid YAML: sequence end token ']' not found`,
		}},
		{"not a mapping", "- a\n- b\n", nil, []string{
			`1: the config must be a mapping with the keys listeners, upstreams, routes, admin, shutdown and log; got a list`,
		}},
		{"empty config", "", nil, []string{
			`1: no listeners: add one, like listeners: [{name: web, address: "127.0.0.1:8080"}]`,
		}},
		{"log options", okListener + okUpstream + okRoute + "log: {level: inf, format: xml}\n", nil, []string{
			`4: log: invalid level "inf": use debug, info, warn or error (did you mean "info"?)`,
			`4: log: invalid format "xml": use json or text`,
		}},
		{"framing and invalid headers", okListener + okUpstream + `routes:
  - name: all
    upstream: app
    request_headers:
      set: {Content-Length: "0"}
      remove: ["bad header"]
    response_headers:
      add: {Transfer-Encoding: chunked}
`, nil, []string{
			`7: route "all" request_headers: Content-Length is managed by aya (message framing) and cannot be edited`,
			`8: route "all" request_headers: invalid header name "bad header"`,
			`10: route "all" response_headers: Transfer-Encoding is managed by aya (message framing) and cannot be edited`,
		}},
		{"bad strip_prefix and host", okListener + okUpstream + `routes:
  - name: all
    upstream: app
    strip_prefix: /api/
    match: {host: "example.com:8080"}
  - {name: b, upstream: app, match: {host: "a.*.com"}}
`, nil, []string{
			`6: route "all": strip_prefix "/api/" must be a plain path starting with / and not ending with /, like "/api"`,
			`7: route "all" match: invalid host "example.com:8080": match hosts without a port (the port is ignored when matching)`,
			`8: route "b" match: invalid host "a.*.com": a wildcard must be the whole leftmost label, like "*.example.com"`,
		}},
		{"missing and invalid names", "listeners: [{address: \"127.0.0.1:8080\"}, {name: \"w b\", address: \"127.0.0.1:8081\"}]\n" + okUpstream + `routes:
  - upstream: app
`, nil, []string{
			`1: listener #1: name is required`,
			`1: listener "w b": invalid name: use letters, digits, '-', '_' and '.'`,
			`4: route #1: name is required`,
		}},
		{"route without upstream", okListener + okUpstream + "routes: [{name: all}]\n", nil, []string{
			`3: route "all": upstream is required: name the upstream this route sends requests to`,
		}},
		{"numbers out of range", `listeners:
  - name: web
    address: "127.0.0.1:8080"
    h2: {max_concurrent_streams: -1}
    limits: {max_header_count: 0, max_conns: 99999999999999999999}
` + okUpstream + okRoute, nil, []string{
			`4: listener "web" h2: max_concurrent_streams: must not be negative, got -1`,
			`5: listener "web" limits: max_conns: 99999999999999999999 is out of range`,
			`5: listener "web" limits: max_header_count must be at least 1, got 0`,
		}},
		{"upstream tls without https targets", okListener + `upstreams:
  - name: app
    targets: [{url: "http://127.0.0.1:9001"}]
    tls: {cert: a.pem}
` + okRoute, nil, []string{
			`5: upstream "app" tls: cert without key: client authentication needs both`,
			`5: upstream "app": tls applies only to https targets and this upstream has none`,
		}},
		{"entries of the wrong type are reported once", "listeners: [5, [1]]\n" + okUpstream + `routes:
  -
  - {name: b, upstream: app, match: 5}
`, nil, []string{
			`1: listeners #1: want a mapping, got "5"`,
			`1: listeners #2: want a mapping, got a list`,
			`4: routes: empty list entry #1`,
			`5: route "b": match: want a mapping, got "5"`,
		}},
		{"unknown alias", okListener + okUpstream + "routes: [{name: all, upstream: *nope}]\n", nil, []string{
			`3: alias *nope refers to no anchor: define &nope before using it`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, "aya.yaml")
			env := noEnv
			if tc.env != nil {
				env = envMap(tc.env)
			}
			cfg, err := parse(file, []byte(tc.yaml), env)
			if err == nil {
				t.Fatalf("parsed without error: %+v", cfg)
			}
			wantErrors(t, err, dir, tc.want)
		})
	}
}
