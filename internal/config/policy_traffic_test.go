package config

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const trafficUpstreams = `upstreams:
  - {name: v1, targets: [{url: "http://127.0.0.1:9001"}]}
  - {name: v2, targets: [{url: "http://127.0.0.1:9002"}]}
  - {name: v3, targets: [{url: "http://127.0.0.1:9003"}]}
  - {name: shadow, targets: [{url: "http://127.0.0.1:9004"}]}
`

func TestTrafficPoliciesGood(t *testing.T) {
	dir := t.TempDir()
	write(t, filepath.Join(dir, "c.mmdb"), "opened by the gateway, not by validation")
	yaml := okListener + trafficUpstreams + `geoip: {database: c.mmdb}
routes:
  - name: api
    match: {path: "/*", client_ip: [10.0.0.0/8, 192.0.2.1], country: [de, FR]}
    policies:
      - canary:
          upstreams: [{name: v2, weight: 10%}, {name: v3, weight: 0.05}]
          header: {name: X-Canary, value: "on", upstream: v3}
          cookie: {name: canary}
          sticky: {}
          expose: true
      - mirror: {upstream: shadow, percent: 10%}
    upstream: v1
  - name: ip
    policies:
      - canary: {upstreams: [{name: v2, weight: 50%}], sticky: {by: ip}}
    upstream: v1
`
	cfg, err := parse(filepath.Join(dir, "aya.yaml"), []byte(yaml), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.GeoIP.Database != filepath.Join(dir, "c.mmdb") {
		t.Errorf("geoip.database = %q, want it resolved against the config's directory", cfg.GeoIP.Database)
	}
	m := cfg.Routes[0].Match
	if strings.Join(m.Country, ",") != "DE,FR" {
		t.Errorf("country = %v, want upper case", m.Country)
	}
	if len(m.ClientIP) != 2 || m.ClientIP[1] != netip.MustParsePrefix("192.0.2.1/32") {
		t.Errorf("client_ip = %v", m.ClientIP)
	}
	c := cfg.Routes[0].Policies[0].Canary
	if len(c.Upstreams) != 2 || c.Upstreams[0].Weight != 0.1 || c.Upstreams[1].Weight != 0.05 {
		t.Errorf("canary upstreams = %+v", c.Upstreams)
	}
	if c.Header.Upstream != "v3" || c.Cookie.Name != "canary" || !c.Expose {
		t.Errorf("canary overrides = %+v %+v", c.Header, c.Cookie)
	}
	if s := c.Sticky; s.By != "cookie" || s.Cookie != "aya_canary" || s.TTL.D() != 24*time.Hour {
		t.Errorf("sticky defaults = %+v", s)
	}
	mi := cfg.Routes[0].Policies[1].Mirror
	if mi.Percent != 0.1 || mi.MaxBody != 64<<10 || mi.Timeout.D() != 2*time.Second || mi.MaxInFlight != 100 {
		t.Errorf("mirror = %+v", mi)
	}
	if s := cfg.Routes[1].Policies[0].Canary.Sticky; s.By != "ip" {
		t.Errorf("sticky by = %q", s.By)
	}
}

func TestTrafficPoliciesBad(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"canary errors", okListener + trafficUpstreams + `routes:
  - name: api
    policies:
      - canary:
          upstreams:
            - {name: v1, weight: 10%}
            - {name: v9, weight: 10%}
            - {name: v2, weight: 60%}
            - {name: v2, weight: 150%}
          header: {name: "X Canary", upstream: v2}
          cookie: {name: c, value: "1", upstream: nope}
          sticky: {by: session, ttl: -1s}
    upstream: v1
`, []string{
			`11: route "api" canary: the canary weights add up to 230%; lower them so they leave the route's upstream the rest of 100%`,
			`12: route "api" canary: upstream "v1" is the route's own upstream, which gets what the canaries leave; list only the others`,
			`13: route "api" canary: upstream "v9" is not defined (did you mean "v1"?)`,
			`15: route "api" canary: upstream "v2" is listed twice`,
			`15: route "api" canary: upstream "v2": weight 1.5 is over 100%`,
			`16: route "api" canary header: name "X Canary" is not a valid header name`,
			`16: route "api" canary header: upstream needs value: write the header value that forces upstream "v2"`,
			`17: route "api" canary cookie: upstream "nope" is neither the route's upstream nor a canary`,
			`18: route "api" policy #1 canary sticky: ttl: invalid duration "-1s": must not be negative`,
			`18: route "api" canary sticky: by "session": write cookie or ip`,
		}},
		{"canary needs a route upstream and canaries", okListener + trafficUpstreams + `routes:
  - name: api
    policies:
      - canary: {}
      - static: {status: 200, body: hi}
`, []string{
			`10: route "api" canary: a canary splits the route's upstream, and the route has none: set upstream`,
			`10: route "api" canary: upstreams is required: list the canaries, like [{name: v2, weight: 10%}]`,
		}},
		{"canary on a listener", `listeners:
  - name: web
    address: "127.0.0.1:8080"
    policies:
      - canary: {upstreams: [{name: v2, weight: 10%}]}
` + trafficUpstreams + `routes: [{name: all, upstream: v1}]
`, []string{
			`5: listener "web" canary: a canary splits a route's own upstream: put it on the routes, not in a listener's policies`,
		}},
		{"mirror errors", okListener + trafficUpstreams + `routes:
  - name: api
    policies:
      - mirror: {upstream: shadw, percent: 120%, max_in_flight: 0, timeout: 0s}
      - mirror: {max_body: -1}
    upstream: v1
`, []string{
			`10: route "api" mirror: upstream "shadw" is not defined (did you mean "shadow"?)`,
			`10: route "api" mirror: percent 1.2 is over 100%`,
			`10: route "api" mirror: timeout must be positive, like 2s: a copy must not wait on the shadow forever`,
			`10: route "api" mirror: max_in_flight must be at least 1`,
			`11: route "api" policy #2 mirror: max_body: invalid size "-1": write bytes or a number with a unit, like 512, 64KB or 10MB (KB = 1024 bytes)`,
			`11: route "api" mirror: upstream is required: name the shadow upstream the copies go to`,
		}},
		{"country without geoip", okListener + trafficUpstreams + `routes:
  - name: de
    match: {path: "/*", country: [DE, DEU]}
    upstream: v1
`, []string{
			`9: route "de" match: country needs a country database: add geoip: {database: GeoLite2-Country.mmdb} at the top level`,
			`9: route "de" match: country "DEU" is not a country code: write ISO 3166-1 alpha-2 codes like DE or US`,
		}},
		{"geoip database missing", okListener + trafficUpstreams + `geoip: {database: missing.mmdb}
routes: [{name: all, upstream: v1}]
`, []string{
			`7: geoip: cannot read database: stat DIR/missing.mmdb: no such file or directory`,
		}},
		{"geoip without database", okListener + trafficUpstreams + `geoip: {}
routes: [{name: all, upstream: v1}]
`, []string{
			`7: geoip: database is required: the path of a MaxMind .mmdb file such as GeoLite2-Country.mmdb`,
		}},
		{"bad client_ip", okListener + trafficUpstreams + `routes:
  - name: all
    match: {client_ip: [10.0.0.0/33]}
    upstream: v1
`, []string{
			`9: route "all" match: client_ip #1: invalid CIDR "10.0.0.0/33": write an address or a prefix like 10.0.0.0/8 or fd00::/8`,
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parse(filepath.Join(dir, "aya.yaml"), []byte(tc.yaml), noEnv)
			wantErrors(t, err, dir, tc.want)
		})
	}
}
