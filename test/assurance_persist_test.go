package test

import (
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"aya/internal/demo"
)

// TestPersistAdminTargets: admin target changes reach the config file only with
// ?persist=true, written atomically with the rest of the file (comments included) kept, and a
// restart from the file serves the persisted targets.
func TestPersistAdminTargets(t *testing.T) {
	b1, b2 := startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0")
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`# production gateway
listeners: [{name: web, address: "%s"}]
upstreams:
  - name: app
    balance: round_robin  # keep this comment
    targets:
      - "%s"
routes: [{name: r, match: {path: "/*"}, upstream: app}]
admin: {address: "{{ADMIN}}"}
`, web, b1.url()))
	call := func(method, path, body string) int {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+p.Admin+path, strings.NewReader(body))
		resp, err := client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	read := func() string {
		b, err := os.ReadFile(p.Config)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	before := read()
	if s := call("POST", "/upstreams/app/targets", `{"url": "`+b2.url()+`", "weight": 2}`); s != 200 {
		t.Fatalf("add: %d", s)
	}
	if read() != before {
		t.Fatal("a change without persist=true was written")
	}
	if s := call("POST", "/upstreams/app/targets?persist=maybe", `{"url": "`+b2.url()+`"}`); s != 400 {
		t.Fatalf("persist=maybe: %d", s)
	}
	if s := call("POST", "/upstreams/app/targets?persist=true", `{"url": "`+b2.url()+`", "weight": 2}`); s != 200 {
		t.Fatalf("add with persist: %d", s)
	}
	after := read()
	for _, want := range []string{"# production gateway", "# keep this comment", b1.url(), `{url: "` + b2.url() + `", weight: 2}`} {
		if !strings.Contains(after, want) {
			t.Fatalf("file lacks %q:\n%s", want, after)
		}
	}
	if s := call("DELETE", "/upstreams/app/targets?persist=true&target="+b1.url(), ""); s != 200 {
		t.Fatalf("remove with persist: %d", s)
	}
	after = read()
	if strings.Contains(after, b1.url()) || !strings.Contains(after, b2.url()) {
		t.Fatalf("after remove:\n%s", after)
	}
	if out, code := runAya(t, "validate", "-c", p.Config); code != 0 {
		t.Fatalf("the persisted file does not validate: %s\n%s", out, after)
	}

	// A fresh aya from the file serves the persisted target only.
	p.stop(5 * time.Second)
	web2 := freePort(t)
	startAya(t, strings.NewReplacer(web, web2, p.Admin, "{{ADMIN}}").Replace(after))
	for range 4 {
		resp, err := client().Get("http://" + web2 + "/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get(demo.BackendHeader) != "b2" {
			t.Fatalf("status %d from %q", resp.StatusCode, resp.Header.Get(demo.BackendHeader))
		}
	}
}
