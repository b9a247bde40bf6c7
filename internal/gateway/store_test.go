package gateway

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"aya/internal/config"
)

// TestConsumersSurviveRestart: with data_dir, a consumer, its generated key and an approved
// subscription made through the admin API are there after the gateway restarts.
func TestConsumersSurviveRestart(t *testing.T) {
	be := backend(t)
	dir := t.TempDir()
	text := `listeners: [{name: web, address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
data_dir: state
upstreams: [{name: u, targets: [{url: "` + be.URL + `"}]}]
apis: [{name: orders, routes: [api], subscription_required: true}]
routes:
  - name: api
    match: {path: "/*"}
    policies: [{auth: {api_key: {header: X-API-Key}}}]
    upstream: u
`
	path := filepath.Join(dir, "aya.yaml")
	os.WriteFile(path, []byte(text), 0o600)
	start := func() *Gateway {
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		g, err := New(cfg, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		return g
	}
	call := func(g *Gateway, method, url, body string) (int, string) {
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	g := start()
	admin := "http://" + g.admin.addr()
	if code, body := call(g, "POST", admin+"/consumers", `{"name": "carol", "groups": ["paid"]}`); code/100 != 2 {
		t.Fatalf("add consumer: %d %s", code, body)
	}
	code, body := call(g, "POST", admin+"/consumers/carol/keys", ``)
	var key struct{ Key string }
	if json.Unmarshal([]byte(body), &key); code/100 != 2 || key.Key == "" {
		t.Fatalf("new key: %d %s", code, body)
	}
	code, body = call(g, "POST", admin+"/subscriptions", `{"consumer": "carol", "api": "orders"}`)
	var sub struct{ ID string }
	if json.Unmarshal([]byte(body), &sub); code/100 != 2 || sub.ID == "" {
		t.Fatalf("request subscription: %d %s", code, body)
	}
	if code, body := call(g, "POST", admin+"/subscriptions/"+sub.ID+"/approve", ``); code != 200 {
		t.Fatalf("approve: %d %s", code, body)
	}
	// Target changes: one added, the file's one removed then added back with another weight.
	if code, body := call(g, "POST", admin+"/upstreams/u/targets", `{"url": "http://127.0.0.1:9", "weight": 3}`); code != 200 {
		t.Fatalf("add target: %d %s", code, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	g = start()
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		g.Shutdown(ctx)
	}()
	req, _ := http.NewRequest("GET", "http://"+g.Addr("web")+"/x", nil)
	req.Header.Set("X-API-Key", key.Key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("after the restart the generated key gets %d, want 200 (consumer, key and subscription kept)", resp.StatusCode)
	}
	if code, body := call(g, "GET", "http://"+g.admin.addr()+"/consumers/carol", ``); code != 200 || !strings.Contains(body, `"admin"`) {
		t.Fatalf("consumer after restart: %d %s", code, body)
	}
	var ups struct {
		Upstreams []struct {
			Name    string
			Targets []struct {
				URL    string
				Weight int
			}
		}
	}
	_, body = call(g, "GET", "http://"+g.admin.addr()+"/upstreams", ``)
	if err := json.Unmarshal([]byte(body), &ups); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, tg := range ups.Upstreams[0].Targets {
		found = found || tg.URL == "http://127.0.0.1:9" && tg.Weight == 3
	}
	if len(ups.Upstreams[0].Targets) != 2 || !found {
		t.Fatalf("after the restart the admin-added target is gone: %s", body)
	}
}
