package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

func adminDo(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Content-Type", "application/yaml")
	resp, err := client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: %d %s", method, url, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

// TestAdminConfigLifecycle drives /ready and /config on the real binary: GET redacts secrets
// and names each value's origin; PUT with a broken config answers 400 with file:line while the
// old config keeps serving; PUT with a good one applies it at once and saves it; every change
// is audited in aya's log.
func TestAdminConfigLifecycle(t *testing.T) {
	be := backends(t, 1)
	web := freePort(t)
	const token = "e2e-admin-secret"
	cfg := fmt.Sprintf(`listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}", token: %s}
upstreams: [{name: app, targets: ["http://%s"]}]
routes:
  - {name: old, match: {path: "/old/*"}, upstream: app}
access_log: {enabled: false}
`, web, token, be[0])
	p := startAya(t, cfg)
	admin := "http://" + p.Admin
	status := func(path string) int {
		resp, err := client().Get("http://" + web + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	if code, m := adminDo(t, "GET", admin+"/ready", "", ""); code != 200 || m["status"] != "ready" {
		t.Fatalf("/ready: %d %v", code, m)
	}
	code, m := adminDo(t, "GET", admin+"/config", token, "")
	raw, _ := json.Marshal(m)
	if code != 200 || strings.Contains(string(raw), token) || m["config"].(map[string]any)["admin"].(map[string]any)["token"] != "[redacted]" {
		t.Fatalf("GET /config: %d %s", code, raw)
	}
	origins := m["origins"].(map[string]any)
	if origins["routes[0].match.path"] != p.Config+":5" || origins["access_log.format"] != "default" {
		t.Errorf("origins: %v / %v", origins["routes[0].match.path"], origins["access_log.format"])
	}
	if code, _ := adminDo(t, "GET", admin+"/config", "", ""); code != 401 {
		t.Fatalf("GET /config without the token: %d", code)
	}

	// A broken config: 400, each problem at its line, nothing changes.
	bad := strings.ReplaceAll(cfg, "{{ADMIN}}", p.Admin)
	bad = strings.Replace(bad, `{name: old, match: {path: "/old/*"}, upstream: app}`, `{name: new, match: {path: "/new/*"}, upstream: ap}`, 1)
	code, m = adminDo(t, "PUT", admin+"/config", token, bad)
	if code != 400 {
		t.Fatalf("bad PUT: %d %v", code, m)
	}
	msg := m["error"].(map[string]any)["message"].(string)
	if !strings.Contains(msg, p.Config+":5: ") || !strings.Contains(msg, `"ap"`) {
		t.Fatalf("bad PUT message %q", msg)
	}
	if status("/old/x") != 200 || status("/new/x") != 404 {
		t.Fatal("a refused PUT changed what is served")
	}
	if b, _ := os.ReadFile(p.Config); strings.Contains(string(b), "/new/") {
		t.Fatal("a refused PUT reached the file")
	}

	// A good config: applied, saved, audited.
	good := strings.Replace(bad, "upstream: ap}", "upstream: app}", 1)
	code, m = adminDo(t, "PUT", admin+"/config", token, good)
	if code != 200 || m["persisted"] != true {
		t.Fatalf("good PUT: %d %v", code, m)
	}
	if status("/new/x") != 200 || status("/old/x") != 404 {
		t.Fatal("the PUT config is not serving")
	}
	if b, _ := os.ReadFile(p.Config); string(b) != good {
		t.Fatalf("config file after PUT:\n%s", b)
	}
	if !p.waitOutput(`"msg":"admin change"`, 5*time.Second) {
		t.Fatal("no audit line")
	}
	var audits []map[string]any
	for _, line := range strings.Split(p.out.String(), "\n") {
		var a map[string]any
		if json.Unmarshal([]byte(line), &a) == nil && a["audit"] == true {
			audits = append(audits, a)
		}
	}
	if len(audits) < 2 || audits[0]["status"] != float64(400) || audits[1]["status"] != float64(200) || audits[1]["method"] != "PUT" {
		t.Fatalf("audit lines %v", audits)
	}
	if who := audits[1]["who"].(map[string]any); who["credential"] != "token" || who["address"] != "127.0.0.1" {
		t.Errorf("who %v", who)
	}
	if strings.Contains(p.out.String(), token) {
		t.Error("the admin token reached the log")
	}
	// The file watcher sees the saved file and reloads the same config: still serving.
	time.Sleep(300 * time.Millisecond)
	if status("/new/x") != 200 {
		t.Fatal("the saved file did not reload cleanly")
	}
}
