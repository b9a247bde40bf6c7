package gateway

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"aya/internal/config"
)

const authConfig = `listeners: [{name: web, address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
upstreams:
  - name: u
    targets: [{url: "{{BACKEND}}"}]
routes:
  - name: orders
    match: {path: "/orders/*"}
    policies:
      - auth: {api_key: {header: X-API-Key}}
    upstream: u
  - name: staff
    match: {path: "/staff/*"}
    policies:
      - auth: {api_key: {}, optional: true}
      - acl: {allow_groups: [staff]}
    upstream: u
consumers:
  - {name: alice, groups: [staff], api_keys: [alice-key-0123456789]}
apis:
  - {name: orders, routes: [orders], subscription_required: true}
`

func TestAuthAdminAndSubscriptions(t *testing.T) {
	be := backend(t)
	g, dir := testGateway(t, authConfig, be.URL)
	web, admin := "http://"+g.Addr("web"), "http://"+g.admin.addr()
	get := func(path, key string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", web+path, nil)
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	call := func(method, path, body string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, admin+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		var out map[string]any
		json.Unmarshal(b, &out)
		if bytes.Contains(b, []byte("alice-key-0123456789")) {
			t.Fatalf("%s %s shows a key: %s", method, path, b)
		}
		return out
	}

	if s := get("/staff/x", ""); s != 401 {
		t.Errorf("staff anonymous: %d, want 401", s)
	}
	if s := get("/staff/x", "alice-key-0123456789"); s != 200 {
		t.Errorf("staff alice: %d", s)
	}
	if s := get("/orders/1", "alice-key-0123456789"); s != 403 {
		t.Errorf("orders without subscription: %d, want 403", s)
	}
	sub := call("POST", "/subscriptions", `{"consumer": "alice", "api": "orders"}`, 201)
	id, _ := sub["id"].(string)
	if sub["status"] != "pending" || id == "" {
		t.Fatalf("request: %v", sub)
	}
	if s := get("/orders/1", "alice-key-0123456789"); s != 403 {
		t.Errorf("pending: %d, want 403", s)
	}
	call("POST", "/subscriptions/"+id+"/approve", "", 200)
	if s := get("/orders/1", "alice-key-0123456789"); s != 200 {
		t.Errorf("approved: %d, want 200", s)
	}

	// a consumer added through the API, with a generated key, staff by group
	call("POST", "/consumers", `{"name": "bob", "groups": ["staff"], "api_keys": ["bob-key-0123456789"]}`, 201)
	call("POST", "/consumers", `{"name": "eve", "api_keys": ["alice-key-0123456789"]}`, 409)
	call("POST", "/consumers", `{"name": "eve", "api_keys": ["short"]}`, 400)
	k := call("POST", "/consumers/bob/keys", "", 201)
	key, _ := k["key"].(string)
	if s := get("/staff/x", key); s != 200 {
		t.Errorf("generated key: %d", s)
	}
	if s := get("/staff/x", "bob-key-0123456789"); s != 200 {
		t.Errorf("bob's first key after a new one: %d", s)
	}
	bob := call("GET", "/consumers/bob", "", 200)
	if keys, _ := bob["api_keys"].([]any); len(keys) != 2 || !strings.HasPrefix(keys[0].(string), "sha256:") || bob["source"] != "admin" {
		t.Errorf("bob: %v", bob)
	}
	list := call("GET", "/consumers", "", 200)
	if cs, _ := list["consumers"].([]any); len(cs) != 2 {
		t.Errorf("consumers: %v", list)
	}
	if apis := call("GET", "/apis", "", 200); !strings.Contains(toJSON(apis), `"subscription_required":true`) {
		t.Errorf("apis: %v", apis)
	}

	// a reload keeps what the admin API added
	cfg, err := config.Parse(filepath.Join(dir, "aya.yaml"), []byte(strings.ReplaceAll(authConfig, "{{BACKEND}}", be.URL)+"# reloaded\n"))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if s := get("/orders/1", "alice-key-0123456789"); s != 200 {
		t.Errorf("approved after reload: %d", s)
	}
	if s := get("/staff/x", key); s != 200 {
		t.Errorf("generated key after reload: %d", s)
	}
	call("POST", "/subscriptions/"+id+"/revoke", "", 200)
	if s := get("/orders/1", "alice-key-0123456789"); s != 403 {
		t.Errorf("revoked: %d, want 403", s)
	}
	subs := call("GET", "/subscriptions", "", 200)
	if !strings.Contains(toJSON(subs), `"status":"revoked"`) {
		t.Errorf("subscriptions: %v", subs)
	}
	call("POST", "/subscriptions/sub_nope/approve", "", 404)
	call("DELETE", "/consumers/alice", "", 409)
	call("DELETE", "/consumers/bob", "", 200)
	call("DELETE", "/consumers/bob", "", 404)
	if s := get("/staff/x", key); s != 401 {
		t.Errorf("deleted bob's key: %d, want 401", s)
	}
}

func toJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestAuthPublicKeyFile(t *testing.T) {
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	os.WriteFile(filepath.Join(dir, "pub.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
	os.WriteFile(filepath.Join(dir, "priv.pem"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
	tests := []struct{ file, want string }{
		{"pub.pem", ""},
		{"missing.pem", `aya.yaml:7: route "api": auth: jwt.public_key: open`},
		{"priv.pem", `PEM block "RSA PRIVATE KEY" is not a public key`},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			text := `listeners: [{name: web, address: "127.0.0.1:0"}]
upstreams: [{name: u, targets: [{url: "http://127.0.0.1:1"}]}]
routes:
  - name: api
    upstream: u
    policies:
      - auth: {jwt: {public_key: ` + tc.file + `}}
`
			cfg, err := config.Parse(filepath.Join(dir, "aya.yaml"), []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			err = Check(cfg)
			if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
				t.Errorf("Check: %v, want %q", err, tc.want)
			}
		})
	}
}
