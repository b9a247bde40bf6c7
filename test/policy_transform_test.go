package test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// transformApp echoes what reached it as JSON (plus an "internal" field the response transform
// removes) and names itself in Server, which the transform also removes.
func transformApp(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		hdr := map[string]string{}
		for k := range r.Header {
			hdr[k] = r.Header.Get(k)
		}
		out, _ := json.Marshal(map[string]any{
			"path": r.URL.Path, "query": r.URL.RawQuery, "headers": hdr, "body": string(body),
			"length": r.ContentLength, "internal": "do not show",
		})
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Server", "app/1.0")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestPolicyTransform runs examples/policies-transform.yaml over real backends.
func TestPolicyTransform(t *testing.T) {
	app := transformApp(t)
	users := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/users/404" {
			http.Error(w, `{"error":"no such user"}`, 404)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":`+strings.TrimPrefix(r.URL.Path, "/users/")+`,"name":"Al"}`)
	}))
	t.Cleanup(users.Close)
	// orders: user 7 has orders, user 8's call fails, user 9's is too slow for its 500ms.
	release := make(chan struct{})
	orders := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Query().Get("user") {
		case "8":
			http.Error(w, "database down", 500)
		case "9":
			select {
			case <-release:
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		default:
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `[{"id":1,"total":9.5}]`)
		}
	}))
	t.Cleanup(orders.Close)
	t.Cleanup(func() { close(release) })

	example, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "policies-transform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	addr, insecure := freePort(t), freePort(t)
	cfg := strings.NewReplacer(
		"127.0.0.1:8080", addr,
		"127.0.0.1:8081", insecure,
		"http://127.0.0.1:9001", app.URL,
		"http://127.0.0.1:9002", users.URL,
		"http://127.0.0.1:9003", orders.URL,
		"127.0.0.1:9901", "{{ADMIN}}",
	).Replace(string(example))
	startAya(t, cfg)
	base := "http://" + addr
	c := &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	do := func(method, url, body string, hdr ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, url, strings.NewReader(body))
		if body == "" {
			req.Body = nil
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	type echo struct {
		Path, Query, Body string
		Headers           map[string]string
		Length            int64
		Internal          *string
	}

	t.Run("transform and rewrite", func(t *testing.T) {
		resp, b := do("POST", base+"/api/orders?x=1",
			`{"user_name":"al","is_admin":true,"items":[1,2]}`,
			"Content-Type", "application/json", "X-Debug", "1", "X-Token", "Bearer abc", "X-Request-ID", "req-transform-1")
		var e echo
		if err := json.Unmarshal(b, &e); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%d %s", resp.StatusCode, b)
		}
		if e.Path != "/v1/orders" || e.Query != "x=1&source=aya" {
			t.Errorf("upstream got %s?%s", e.Path, e.Query)
		}
		if e.Headers["X-Debug"] != "" || e.Headers["Authorization"] != "Bearer abc" || e.Headers["X-Token"] != "" ||
			e.Headers["X-Client-Ip"] != "127.0.0.1" || e.Headers["X-Route"] != "api" {
			t.Errorf("upstream headers %v", e.Headers)
		}
		var body map[string]any
		if err := json.Unmarshal([]byte(e.Body), &body); err != nil {
			t.Fatalf("upstream body %q: %v", e.Body, err)
		}
		want := `{"items":[1,2],"meta":{"request_id":"req-transform-1","version":2},"user":{"name":"al"}}`
		if got, _ := json.Marshal(body); string(got) != want || e.Length != int64(len(e.Body)) {
			t.Errorf("upstream body %s (Content-Length %d), want %s", got, e.Length, want)
		}
		if e.Internal != nil || resp.Header.Get("Server") != "" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("response not edited: %v %s", resp.Header, b)
		}
		if resp.ContentLength != int64(len(b)) {
			t.Errorf("Content-Length %d for %d bytes", resp.ContentLength, len(b))
		}
	})

	t.Run("body limits and refusals", func(t *testing.T) {
		big := `{"pad":"` + strings.Repeat("x", 70<<10) + `"}`
		if resp, b := do("POST", base+"/api/x", big, "Content-Type", "application/json"); resp.StatusCode != 413 {
			t.Errorf("over max_size: %d %s", resp.StatusCode, b)
		}
		if resp, b := do("POST", base+"/api/x", `{"is_admin":false,"is_admin":true}`, "Content-Type", "application/json"); resp.StatusCode != 400 ||
			!strings.Contains(string(b), "duplicate key") {
			t.Errorf("duplicate key: %d %s", resp.StatusCode, b)
		}
		resp, b := do("POST", base+"/api/x", "is_admin=true", "Content-Type", "application/x-www-form-urlencoded")
		var e echo
		json.Unmarshal(b, &e)
		if resp.StatusCode != 200 || e.Body != "is_admin=true" {
			t.Errorf("non-JSON body: %d %s", resp.StatusCode, b)
		}
	})

	t.Run("regex rewrite", func(t *testing.T) {
		_, b := do("GET", base+"/u/42?full=1", "")
		var e echo
		json.Unmarshal(b, &e)
		if e.Path != "/users/42" || e.Query != "full=1" {
			t.Errorf("upstream got %s?%s", e.Path, e.Query)
		}
	})

	t.Run("redirect", func(t *testing.T) {
		resp, _ := do("GET", base+"/blog/2024/hello?ref=x", "")
		if resp.StatusCode != 301 || resp.Header.Get("Location") != "https://blog.example.com/blog/2024/hello" {
			t.Errorf("%d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
		resp, _ = do("GET", "http://"+insecure+"/account/settings?tab=2", "")
		if resp.StatusCode != 308 || resp.Header.Get("Location") != "https://127.0.0.1:8443/account/settings?tab=2" {
			t.Errorf("https upgrade: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})

	t.Run("static", func(t *testing.T) {
		resp, b := do("GET", base+"/status", "")
		if resp.StatusCode != 200 || string(b) != `{"status":"ok"}` || resp.Header.Get("Content-Type") != "application/json" ||
			resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%d %v %s", resp.StatusCode, resp.Header, b)
		}
	})

	t.Run("aggregate", func(t *testing.T) {
		type merged struct {
			User   map[string]any    `json:"user"`
			Orders []map[string]any  `json:"orders"`
			Errors map[string]string `json:"errors"`
		}
		get := func(id string) (int, merged, string) {
			resp, b := do("GET", base+"/profile/"+id, "")
			var m merged
			json.Unmarshal(b, &m)
			return resp.StatusCode, m, string(b)
		}
		if st, m, raw := get("7"); st != 200 || m.User["name"] != "Al" || len(m.Orders) != 1 || m.Errors != nil {
			t.Errorf("both calls: %d %s", st, raw)
		}
		if st, m, raw := get("8"); st != 200 || m.User["name"] != "Al" || m.Orders != nil || m.Errors["orders"] != "upstream answered 500" {
			t.Errorf("failed optional call: %d %s", st, raw)
		}
		if st, m, raw := get("9"); st != 200 || m.User["name"] != "Al" || m.Orders != nil || m.Errors["orders"] != "timed out after 500ms" ||
			!strings.Contains(raw, `"orders":null`) {
			t.Errorf("slow optional call: %d %s", st, raw)
		}
		st, _, raw := get("404")
		if st != 502 || !strings.Contains(raw, `aggregate call \"user\" failed: upstream answered 404`) {
			t.Errorf("failed required call: %d %s", st, raw)
		}
	})
}
