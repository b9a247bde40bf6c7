package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"aya/internal/config"
)

type lockedBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const adminConfig = `listeners: [{name: web, address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0", token: s3cret-token}
upstreams:
  - name: u
    targets: [{url: "{{BACKEND}}"}]
routes:
  - {name: api, match: {path: "/api/*"}, upstream: u}
access_log: {enabled: false}
`

func adminCall(t *testing.T, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer s3cret-token")
	req.Header.Set("User-Agent", "admin-test")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s %s: not JSON: %s", method, url, b)
	}
	return resp.StatusCode, m
}

func TestAdminConfig(t *testing.T) {
	be := backend(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "aya.yaml")
	text := strings.ReplaceAll(adminConfig, "{{BACKEND}}", be.URL)
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuf{}
	g, err := New(cfg, slog.New(slog.NewJSONHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	}()
	admin := "http://" + g.admin.addr()

	// GET /config: secrets redacted, origins by line.
	status, view := adminCall(t, "GET", admin+"/config", "")
	raw, _ := json.Marshal(view)
	if status != 200 || strings.Contains(string(raw), "s3cret-token") || !strings.Contains(string(raw), config.Redacted) {
		t.Fatalf("GET /config %d: %s", status, raw)
	}
	origins := view["origins"].(map[string]any)
	if origins["admin.token"] != path+":2" || origins["upstreams[0].balance"] != "default" || origins["routes[0].match.path"] != path+":7" {
		t.Errorf("origins: admin.token=%v balance=%v path=%v", origins["admin.token"], origins["upstreams[0].balance"], origins["routes[0].match.path"])
	}

	// PUT a bad config: 400 with file:line, nothing changes, the old config keeps serving.
	bad := strings.Replace(text, `match: {path: "/api/*"}`, `match: {path: "/v2/*"}, timeout: soon`, 1)
	status, out := adminCall(t, "PUT", admin+"/config", bad)
	if status != 400 {
		t.Fatalf("bad PUT: %d %v", status, out)
	}
	problems := out["errors"].([]any)
	first := problems[0].(map[string]any)
	if first["file"] != path || first["line"] != float64(7) || !strings.Contains(out["error"].(map[string]any)["message"].(string), path+":7: ") {
		t.Fatalf("bad PUT errors: %v", out)
	}
	if b, _ := os.ReadFile(path); string(b) != text {
		t.Fatal("a refused config was written to the file")
	}
	get := func(p string) int {
		resp, err := http.Get("http://" + g.Addr("web") + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if get("/api/x") != 200 || get("/v2/x") != 404 {
		t.Fatal("the old config stopped serving after a refused PUT")
	}

	// POST /config/validate changes nothing either way.
	good := strings.Replace(text, `match: {path: "/api/*"}`, `match: {path: "/v2/*"}`, 1)
	if status, out := adminCall(t, "POST", admin+"/config/validate", good); status != 200 || out["valid"] != true {
		t.Fatalf("validate: %d %v", status, out)
	}
	if get("/v2/x") != 404 {
		t.Fatal("validate applied the config")
	}

	// PUT a good config: applied at once and saved to the file.
	status, out = adminCall(t, "PUT", admin+"/config", good)
	if status != 200 || out["persisted"] != true || len(out["changed"].([]any)) != 1 || out["changed"].([]any)[0] != "routes" {
		t.Fatalf("good PUT: %d %v", status, out)
	}
	if get("/v2/x") != 200 || get("/api/x") != 404 {
		t.Fatal("the new config is not serving")
	}
	if b, _ := os.ReadFile(path); string(b) != good {
		t.Fatalf("the file was not rewritten: %s", b)
	}
	if st, _ := os.Stat(path); st.Mode().Perm() != 0o600 {
		t.Fatalf("the file's mode changed to %v", st.Mode().Perm())
	}

	// Every change is audited: who, what, the outcome; never the token.
	var audits []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["audit"] == true {
			audits = append(audits, m)
		}
	}
	if len(audits) != 3 {
		t.Fatalf("%d audit lines, want 3 (two PUTs and a validate):\n%s", len(audits), logs.String())
	}
	last := audits[2]
	who := last["who"].(map[string]any)
	if last["method"] != "PUT" || last["path"] != "/config" || last["status"] != float64(200) || who["credential"] != "token" ||
		who["user_agent"] != "admin-test" || who["address"] != "127.0.0.1" {
		t.Errorf("audit line %v", last)
	}
	if audits[0]["status"] != float64(400) {
		t.Errorf("the refused PUT is audited with its status: %v", audits[0])
	}
	if strings.Contains(logs.String(), "s3cret-token") {
		t.Error("the token reached the log")
	}
}

func TestReadyFollowsLifecycle(t *testing.T) {
	be := backend(t)
	g, _ := testGateway(t, observeConfig, be.URL)
	admin := "http://" + g.admin.addr()
	resp, err := http.Get(admin + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if resp.StatusCode != 200 || m["status"] != "ready" || len(m["listeners"].([]any)) != 1 {
		t.Fatalf("ready: %d %v", resp.StatusCode, m)
	}
	g.shutting.Store(true)
	resp, err = http.Get(admin + "/ready")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 {
		t.Fatalf("draining: %d", resp.StatusCode)
	}
}
