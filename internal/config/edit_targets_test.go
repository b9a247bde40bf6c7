package config

import (
	"strings"
	"testing"
)

func TestSetUpstreamTargets(t *testing.T) {
	src := `# the site's gateway
listeners: [{name: web, address: "127.0.0.1:8080"}]
upstreams:
  - name: other
    targets: ["http://127.0.0.1:9100"] # keep me
  - name: app
    balance: least_conn   # a comment
    targets:
      - http://127.0.0.1:9001
      - {url: "http://127.0.0.1:9002", weight: 2}
  - name: found
    discovery: {dns: {name: app.internal}}
routes: [{name: r, upstream: app}]
`
	a, _ := NewTarget("http://127.0.0.1:9001", 1)
	c, _ := NewTarget("http://127.0.0.1:9003", 3)
	c.Zone, c.Backup = "eu-1", true
	out, err := SetUpstreamTargets([]byte(src), "app", []Target{a, c})
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"# the site's gateway", "# a comment", "# keep me", "balance: least_conn", `"http://127.0.0.1:9100"`} {
		if !strings.Contains(s, want) {
			t.Errorf("lost %q:\n%s", want, s)
		}
	}
	cfg, err := Parse("a.yaml", out)
	if err != nil {
		t.Fatalf("%v\n%s", err, s)
	}
	got := cfg.Upstreams[1].Targets
	if len(got) != 2 || got[0].URL != a.URL || got[1].URL != c.URL || got[1].Weight != 3 || !got[1].Backup || got[1].Zone != "eu-1" {
		t.Fatalf("targets %+v\n%s", got, s)
	}
	if len(cfg.Upstreams[0].Targets) != 1 {
		t.Fatalf("other upstream changed:\n%s", s)
	}

	out, err = SetUpstreamTargets(out, "found", []Target{a})
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err = Parse("a.yaml", out); err != nil || len(cfg.Upstreams[2].Targets) != 1 || cfg.Upstreams[2].Discovery == nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := SetUpstreamTargets(out, "nope", nil); err == nil || !strings.Contains(err.Error(), `no upstream named "nope"`) {
		t.Fatalf("unknown upstream: %v", err)
	}
}
