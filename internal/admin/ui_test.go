package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// server mounts the UI and a protected endpoint the way the gateway's admin mux does.
func server(t *testing.T, token string) (*httptest.Server, *Sessions) {
	t.Helper()
	s := NewSessions(token, time.Hour)
	mux := http.NewServeMux()
	mux.Handle("/ui/", NewUI(s, slog.New(slog.DiscardHandler)))
	mux.Handle("GET /data", bearer(token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"ok":true}`) })))
	mux.Handle("POST /change", bearer(token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, `{"changed":true}`) })))
	srv := httptest.NewServer(s.Authorize(mux))
	t.Cleanup(srv.Close)
	return srv, s
}

// bearer is the admin API's own check, as the gateway does it.
func bearer(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
			w.Header().Set("WWW-Authenticate", `Bearer realm="aya-admin"`)
			writeError(w, 401, "token")
			return
		}
		h.ServeHTTP(w, r)
	})
}

func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 5 * time.Second}
}

func do(t *testing.T, c *http.Client, method, url, body string, hdr map[string]string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestStaticAssets(t *testing.T) {
	srv, _ := server(t, "")
	c := browser(t)
	for path, want := range map[string]string{
		"/ui/": `<canvas id="chart-rps">`, "/ui/app.js": "function tick()", "/ui/charts.js": "window.Charts",
		"/ui/app.css": "--accent", "/ui/favicon.svg": "<svg",
	} {
		code, body, h := do(t, c, "GET", srv.URL+path, "", nil)
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d, body lacks %q", path, code, want)
		}
		if !strings.Contains(h.Get("Content-Security-Policy"), "default-src 'self'") || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: headers %v", path, h)
		}
	}
	// Nothing in the page reaches past this server: no CDN, no external font.
	for _, path := range []string{"/ui/", "/ui/app.js", "/ui/charts.js", "/ui/app.css"} {
		_, body, _ := do(t, c, "GET", srv.URL+path, "", nil)
		if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
			t.Errorf("%s refers to another origin", path)
		}
	}
	if code, _, _ := do(t, c, "GET", srv.URL+"/ui/nope.js", "", nil); code != 404 {
		t.Errorf("missing asset: %d", code)
	}
	if code, _, _ := do(t, c, "POST", srv.URL+"/ui/app.js", "", nil); code != 405 {
		t.Errorf("POST to an asset: %d", code)
	}
	code, body, _ := do(t, c, "GET", srv.URL+"/ui/session", "", nil)
	if code != 200 || !strings.Contains(body, `"auth_required":false`) || !strings.Contains(body, `"signed_in":true`) {
		t.Errorf("session without a token: %d %s", code, body)
	}
	if code, _, _ := do(t, c, "POST", srv.URL+"/change", "", nil); code != 200 {
		t.Errorf("no token configured: POST %d", code)
	}
}

func TestSignInSessionAndCSRF(t *testing.T) {
	srv, _ := server(t, "s3cret")
	c := browser(t)
	jsonHdr := map[string]string{"Content-Type": "application/json"}

	if code, _, h := do(t, c, "GET", srv.URL+"/data", "", nil); code != 401 || h.Get("WWW-Authenticate") == "" {
		t.Fatalf("no credentials: %d", code)
	}
	if code, _, _ := do(t, c, "GET", srv.URL+"/data", "", map[string]string{"Authorization": "Bearer s3cret"}); code != 200 {
		t.Fatalf("bearer token: %d", code)
	}
	code, body, _ := do(t, c, "GET", srv.URL+"/ui/session", "", nil)
	if code != 200 || !strings.Contains(body, `"auth_required":true`) || !strings.Contains(body, `"signed_in":false`) || strings.Contains(body, "csrf") {
		t.Fatalf("session before sign-in: %s", body)
	}
	start := time.Now()
	if code, _, _ := do(t, c, "POST", srv.URL+"/ui/login", `{"token":"wrong"}`, jsonHdr); code != 401 || time.Since(start) < 250*time.Millisecond {
		t.Fatalf("wrong token: %d after %v", code, time.Since(start))
	}
	// A cross-site form post (not JSON) or a foreign Origin cannot sign in.
	if code, _, _ := do(t, c, "POST", srv.URL+"/ui/login", `token=s3cret`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}); code != 403 {
		t.Fatalf("form login: %d", code)
	}
	if code, _, _ := do(t, c, "POST", srv.URL+"/ui/login", `{"token":"s3cret"}`, map[string]string{"Content-Type": "application/json", "Origin": "https://evil.example"}); code != 403 {
		t.Fatalf("cross-origin login: %d", code)
	}

	code, body, h := do(t, c, "POST", srv.URL+"/ui/login", `{"token":"s3cret"}`, jsonHdr)
	if code != 200 {
		t.Fatalf("sign in: %d %s", code, body)
	}
	ck := h.Get("Set-Cookie")
	for _, want := range []string{CookieName + "=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(ck, want) {
			t.Errorf("cookie %q lacks %s", ck, want)
		}
	}
	var login struct{ CSRF string }
	json.Unmarshal([]byte(body), &login)
	if len(login.CSRF) < 40 || strings.Contains(ck, login.CSRF) {
		t.Fatalf("csrf token %q (cookie %q)", login.CSRF, ck)
	}
	if code, _, _ := do(t, c, "GET", srv.URL+"/data", "", nil); code != 200 {
		t.Fatalf("GET with the session cookie: %d", code)
	}
	_, body, _ = do(t, c, "GET", srv.URL+"/ui/session", "", nil)
	if !strings.Contains(body, `"csrf":"`+login.CSRF+`"`) {
		t.Fatalf("session after sign-in: %s", body)
	}
	for _, tc := range []struct {
		hdr  map[string]string
		want int
	}{
		{nil, 401},
		{map[string]string{CSRFHeader: "guess"}, 401},
		{map[string]string{CSRFHeader: login.CSRF, "Origin": "http://evil.example"}, 401},
		{map[string]string{CSRFHeader: login.CSRF, "Authorization": "Bearer wrong"}, 401},
		{map[string]string{CSRFHeader: login.CSRF}, 200},
		{map[string]string{CSRFHeader: login.CSRF, "Origin": srv.URL}, 200},
	} {
		if code, _, _ := do(t, c, "POST", srv.URL+"/change", "", tc.hdr); code != tc.want {
			t.Errorf("POST with %v: %d, want %d", tc.hdr, code, tc.want)
		}
	}
	if code, _, _ := do(t, c, "POST", srv.URL+"/ui/logout", "", nil); code != 403 {
		t.Fatalf("logout without csrf: %d", code)
	}
	if code, _, _ := do(t, c, "POST", srv.URL+"/ui/logout", "", map[string]string{CSRFHeader: login.CSRF}); code != 200 {
		t.Fatalf("logout: %d", code)
	}
	if code, _, _ := do(t, c, "GET", srv.URL+"/data", "", nil); code != 401 {
		t.Fatalf("after logout: %d", code)
	}
}

func TestSessionsExpireAndAreBounded(t *testing.T) {
	s := NewSessions("tok", time.Minute)
	now := time.Unix(1000, 0)
	s.now = func() time.Time { return now }
	id, _, ok := s.login("tok")
	if !ok {
		t.Fatal("login failed")
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: CookieName, Value: id})
	if s.lookup(req) == nil {
		t.Fatal("fresh session not found")
	}
	now = now.Add(2 * time.Minute)
	if s.lookup(req) != nil {
		t.Fatal("expired session still valid")
	}
	for range maxSessions + 50 {
		s.login("tok")
	}
	if n := len(s.byID); n != maxSessions {
		t.Fatalf("%d sessions kept, want %d", n, maxSessions)
	}
	if _, _, ok := s.login(""); ok {
		t.Fatal("empty token signed in")
	}
	if _, _, ok := NewSessions("", 0).login(""); ok {
		t.Fatal("sign-in without a configured token")
	}
}
