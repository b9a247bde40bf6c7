package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readLines waits until path has at least n lines and returns them.
func readLines(t *testing.T, path string, n int) []string {
	t.Helper()
	var lines []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		b, _ := os.ReadFile(path)
		lines = nil
		sc := bufio.NewScanner(strings.NewReader(string(b)))
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if len(lines) >= n {
			return lines
		}
	}
	t.Fatalf("%s has %d lines, want %d", path, len(lines), n)
	return nil
}

// TestAccessLogJSON checks the default access log: one JSON line per request carrying the
// request id the client got back, with route, target, status, sizes and timings; quiet routes
// are left out; aya's own log goes elsewhere.
func TestAccessLogJSON(t *testing.T) {
	be := backends(t, 1)
	web := freePort(t)
	dir := t.TempDir()
	access, own := filepath.Join(dir, "access.log"), filepath.Join(dir, "aya.log")
	startAya(t, fmt.Sprintf(`listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
upstreams: [{name: app, targets: ["http://%s"]}]
routes:
  - {name: api, match: {path: "/api/*"}, upstream: app, strip_prefix: /api}
  - {name: ping, match: {path: "/ping"}, upstream: app, access_log: false}
log: {output: "%s"}
access_log: {output: "%s"}
`, web, be[0], own, access))

	c := client()
	ids := map[string]int{} // request id → status the client saw
	for i := range 6 {
		req, _ := http.NewRequest("POST", fmt.Sprintf("http://%s/api/item/%d", web, i), strings.NewReader("hello"))
		req.Header.Set("User-Agent", "logs-test/1.0")
		if i%2 == 0 {
			req.Header.Set("X-Request-ID", fmt.Sprintf("client-id-%d", i))
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ids[resp.Header.Get("X-Request-ID")] = resp.StatusCode
	}
	resp, err := c.Get("http://" + web + "/nowhere")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ids[resp.Header.Get("X-Request-ID")] = resp.StatusCode
	for range 3 {
		resp, err := c.Get("http://" + web + "/ping")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	readLines(t, access, 7)
	time.Sleep(300 * time.Millisecond) // a late line for /ping would show up now
	lines := readLines(t, access, 7)
	if len(lines) != 7 {
		t.Fatalf("%d access lines, want 7 (none for the quiet route):\n%s", len(lines), strings.Join(lines, "\n"))
	}
	v7 := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("not JSON: %s", line)
		}
		id, _ := m["request_id"].(string)
		status, ok := ids[id]
		if !ok {
			t.Fatalf("line with a request id the client never got: %s", line)
		}
		if m["status"] != float64(status) || m["msg"] != "access" || m["level"] != "INFO" || m["listener"] != "web" {
			t.Errorf("line %s", line)
		}
		if _, err := time.Parse(time.RFC3339Nano, m["time"].(string)); err != nil {
			t.Errorf("time %v", m["time"])
		}
		if status == 404 {
			if m["route"] != "" || !strings.Contains(m["error"].(string), "no route matches") {
				t.Errorf("404 line %s", line)
			}
			continue
		}
		if !strings.HasPrefix(id, "client-id-") && !v7.MatchString(id) {
			t.Errorf("generated id %q is not a UUIDv7", id)
		}
		if m["route"] != "api" || m["upstream"] != "app" || m["target"] != "http://"+be[0] || m["method"] != "POST" ||
			m["host"] != web || !strings.HasPrefix(m["path"].(string), "/api/item/") || m["bytes_in"] != float64(5) ||
			m["bytes_out"].(float64) <= 0 || m["client_ip"] != "127.0.0.1" || m["user_agent"] != "logs-test/1.0" ||
			m["retries"] != float64(0) || m["proto"] != "HTTP/1.1" {
			t.Errorf("line %s", line)
		}
		d, u, f := m["duration_ms"].(float64), m["upstream_ms"].(float64), m["ttfb_ms"].(float64)
		if d <= 0 || u <= 0 || f <= 0 || u > d || f > d {
			t.Errorf("durations total %v upstream %v ttfb %v", d, u, f)
		}
	}

	// aya's own log is its own file: no access lines there, no app lines in the access log.
	b, _ := os.ReadFile(own)
	if !strings.Contains(string(b), `"msg":"aya started"`) || strings.Contains(string(b), `"msg":"access"`) {
		t.Errorf("aya's log:\n%s", b)
	}
	if strings.Contains(strings.Join(lines, "\n"), "aya started") {
		t.Error("aya's own log lines reached the access log")
	}
}

// TestAccessLogCommonFormat checks the text format on stdout.
func TestAccessLogCommonFormat(t *testing.T) {
	be := backends(t, 1)
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
upstreams: [{name: app, targets: ["http://%s"]}]
routes: [{name: api, upstream: app}]
access_log: {format: common}
`, web, be[0]))
	req, _ := http.NewRequest("GET", "http://"+web+"/hello?secret=1", nil)
	req.Header.Set("X-Request-ID", "clf-1")
	req.Header.Set("User-Agent", `quote "me"`)
	resp, err := client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	want := regexp.MustCompile(`(?m)^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "GET /hello HTTP/1\.1" 200 \d+ "quote \\x22me\\x22" request_id=clf-1 host=` +
		regexp.QuoteMeta(web) + ` route=api upstream=app target=http://` + regexp.QuoteMeta(be[0]) + ` duration=\d+\.\d{6} upstream_time=\d+\.\d{6} ttfb=\d+\.\d{6} retries=0 bytes_in=0$`)
	deadline := time.Now().Add(5 * time.Second)
	for !want.MatchString(p.out.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("no common log line like %s in:\n%s", want, p.out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if strings.Contains(p.out.String(), "secret=1") {
		t.Error("the query string (which may hold secrets) reached the access log")
	}
}
