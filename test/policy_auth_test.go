package test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const authJWTSecret = "demo-secret-demo-secret-demo-secret!"

// authIdP is a stand-in identity provider: a JWKS whose signing key can rotate, and an RFC 7662
// introspection endpoint.
type authIdP struct {
	mu    sync.Mutex
	kid   string
	key   *rsa.PrivateKey
	calls atomic.Int32 // introspection calls
}

func (p *authIdP) rotate(t *testing.T, kid string) {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	p.kid, p.key = kid, k
	p.mu.Unlock()
}

func (p *authIdP) token(t *testing.T, sub string) string {
	p.mu.Lock()
	kid, key := p.kid, p.key
	p.mu.Unlock()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"sub": sub, "iss": "https://idp.example.com", "aud": "orders", "exp": time.Now().Add(time.Hour).Unix()})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (p *authIdP) jwks(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	kid, key := p.kid, p.key
	p.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": base64.RawURLEncoding.EncodeToString(key.N.Bytes()),
		"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(key.E)).Bytes()),
	}}})
}

func (p *authIdP) introspect(w http.ResponseWriter, r *http.Request) {
	p.calls.Add(1)
	if id, secret, _ := r.BasicAuth(); id != "aya" || secret != "dev-secret" {
		w.WriteHeader(401)
		return
	}
	switch r.PostFormValue("token") {
	case "opaque-good":
		json.NewEncoder(w).Encode(map[string]any{"active": true, "client_id": "reporting-app", "scope": "reports:read", "exp": time.Now().Add(time.Hour).Unix()})
	default:
		json.NewEncoder(w).Encode(map[string]any{"active": false})
	}
}

func hs256Token(t *testing.T, claims jwt.MapClaims) string {
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(authJWTSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type authAnswer struct {
	status    int
	body      string
	challenge []string
}

// TestPolicyAuth runs examples/policies-auth.yaml against a stand-in IdP and an echoing app.
func TestPolicyAuth(t *testing.T) {
	idp := &authIdP{}
	idp.rotate(t, "k1")
	mux := http.NewServeMux()
	mux.HandleFunc("/jwks.json", idp.jwks)
	mux.HandleFunc("/introspect", idp.introspect)
	idpSrv := httptest.NewServer(mux)
	defer idpSrv.Close()
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "user="+r.Header.Get("X-User")+" scope="+r.Header.Get("X-Scope"))
	}))
	defer app.Close()
	idpAddr := idpSrv.Listener.Addr().String()

	example, err := os.ReadFile(filepath.Join(repoRoot(), "examples", "policies-auth.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	web := freePort(t)
	cfg := strings.NewReplacer("127.0.0.1:8080", web, "127.0.0.1:9001", app.Listener.Addr().String(),
		"127.0.0.1:9002", idpAddr, "127.0.0.1:9003", idpAddr, "127.0.0.1:9901", "{{ADMIN}}").Replace(string(example))
	p := startAya(t, cfg)
	base, admin := "http://"+web, "http://"+p.Admin
	c := client()

	do := func(path string, hdr ...string) authAnswer {
		t.Helper()
		req, _ := http.NewRequest("GET", base+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return authAnswer{resp.StatusCode, string(b), resp.Header.Values("WWW-Authenticate")}
	}
	expect := func(a authAnswer, status int, body string) {
		t.Helper()
		if a.status != status || !strings.Contains(a.body, body) {
			t.Fatalf("got %d %q, want %d with %q", a.status, a.body, status, body)
		}
	}
	adminCall := func(method, path, body string, want int) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, admin+path, strings.NewReader(body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, resp.StatusCode, b, want)
		}
		json.Unmarshal(b, &out)
		return out
	}

	t.Run("api keys", func(t *testing.T) {
		expect(do("/orders/1", "X-API-Key", "alice-demo-key-0001"), 200, "user=")
		expect(do("/orders/1?api_key=alice-demo-key-0001"), 200, "")
		a := do("/orders/1", "X-API-Key", "alice-demo-key-0002")
		expect(a, 401, "invalid API key")
		if len(a.challenge) != 3 || !strings.HasPrefix(a.challenge[0], "APIKey") || !strings.HasPrefix(a.challenge[1], "Basic realm=\"shop\"") || !strings.HasPrefix(a.challenge[2], "Bearer") {
			t.Errorf("challenges %q", a.challenge)
		}
		if strings.Contains(a.body, "alice-demo-key-0002") {
			t.Error("the 401 echoes the key")
		}
		expect(do("/public"), 200, "")
		expect(do("/public", "X-API-Key", "nope-nope-nope"), 401, "")
	})
	t.Run("basic", func(t *testing.T) {
		req := func(user, pass string) authAnswer {
			return do("/orders/1", "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
		}
		expect(req("bob", "bob-password"), 200, "")
		expect(req("bob", "bob-password"), 200, "") // the verified-login cache
		expect(req("bob", "wrong"), 401, "invalid Basic credentials")
	})
	t.Run("acl 401 vs 403", func(t *testing.T) {
		a := do("/orders/1")
		expect(a, 401, "authentication required")
		if len(a.challenge) == 0 {
			t.Error("401 without WWW-Authenticate")
		}
		a = do("/orders/1", "X-API-Key", "dave-demo-key-0001")
		expect(a, 403, "consumer dave is not allowed")
		if len(a.challenge) != 0 {
			t.Errorf("a 403 carries a challenge %q", a.challenge)
		}
	})
	t.Run("jwt HS256", func(t *testing.T) {
		claims := func(k string, v any) jwt.MapClaims {
			c := jwt.MapClaims{"sub": "svc-orders", "iss": "https://idp.example.com", "aud": "orders", "exp": time.Now().Add(time.Hour).Unix(), "scope": "orders:write"}
			if k != "" {
				c[k] = v
			}
			return c
		}
		bearer := func(tok string) authAnswer {
			return do("/orders/1", "Authorization", "Bearer "+tok, "X-User", "spoofed")
		}
		expect(bearer(hs256Token(t, claims("", nil))), 200, "user=svc-orders scope=orders:write")
		for name, tok := range map[string]string{
			"expired":        hs256Token(t, claims("exp", time.Now().Add(-time.Hour).Unix())),
			"wrong audience": hs256Token(t, claims("aud", "billing")),
			"alg none":       noneToken(claims("", nil)),
		} {
			a := bearer(tok)
			if a.status != 401 || len(a.challenge) != 3 || !strings.Contains(a.challenge[2], `error="invalid_token"`) {
				t.Errorf("%s: %d %q", name, a.status, a.challenge)
			}
		}
	})
	t.Run("jwt RS256 over JWKS with rotation", func(t *testing.T) {
		bearer := func(tok string) authAnswer { return do("/orders/1", "Authorization", "Bearer "+tok) }
		expect(bearer(idp.token(t, "svc-orders")), 200, "user=svc-orders")
		old := idp.token(t, "svc-orders")
		idp.rotate(t, "k2")
		// an unknown kid refetches the set, at most once per 2s: retry until it has
		deadline := time.Now().Add(15 * time.Second)
		for a := bearer(idp.token(t, "svc-orders")); a.status != 200; a = bearer(idp.token(t, "svc-orders")) {
			if time.Now().After(deadline) {
				t.Fatalf("rotated key not picked up: %d %s", a.status, a.body)
			}
			time.Sleep(200 * time.Millisecond)
		}
		expect(bearer(old), 401, "token signature invalid")
		// a valid token of nobody aya knows: an ad-hoc consumer, with no subscription
		expect(bearer(idp.token(t, "stranger")), 403, "consumer stranger has no approved subscription")
	})
	t.Run("oauth2 introspection", func(t *testing.T) {
		before := idp.calls.Load()
		expect(do("/reports/q1", "Authorization", "Bearer opaque-good"), 200, "scope=reports:read")
		expect(do("/reports/q1", "Authorization", "Bearer opaque-good"), 200, "")
		expect(do("/reports/q1", "Authorization", "Bearer opaque-revoked"), 401, "token not active")
		if n := idp.calls.Load() - before; n != 2 {
			t.Errorf("%d introspection calls, want 2 (one answer cached)", n)
		}
	})
	t.Run("subscription request, approve, revoke", func(t *testing.T) {
		carol := func() authAnswer { return do("/orders/1", "X-API-Key", "carol-demo-key-0001") }
		expect(carol(), 403, "no approved subscription")
		sub := adminCall("POST", "/subscriptions", `{"consumer": "carol", "api": "orders"}`, 201)
		id, _ := sub["id"].(string)
		if sub["status"] != "pending" {
			t.Fatalf("requested: %v", sub)
		}
		expect(carol(), 403, "no approved subscription")
		adminCall("POST", "/subscriptions/"+id+"/approve", "", 200)
		expect(carol(), 200, "")
		adminCall("POST", "/subscriptions/"+id+"/revoke", "", 200)
		expect(carol(), 403, "no approved subscription")
	})
	t.Run("admin keys and consumers", func(t *testing.T) {
		k := adminCall("POST", "/consumers/alice/keys", "", 201)
		key, _ := k["key"].(string)
		expect(do("/orders/1", "X-API-Key", key), 200, "")
		list := adminCall("GET", "/consumers", "", 200)
		b, _ := json.Marshal(list)
		if strings.Contains(string(b), key) || strings.Contains(string(b), "alice-demo-key-0001") || strings.Contains(string(b), "$2a$") {
			t.Errorf("GET /consumers shows a secret: %s", b)
		}
	})
	t.Run("consumer in the access log", func(t *testing.T) {
		if !p.waitOutput(`"consumer":"alice"`, 10*time.Second) || !p.waitOutput(`"consumer":"reporting-app"`, 10*time.Second) {
			t.Errorf("no consumer in the access log:\n%s", p.out.String())
		}
		for _, secret := range []string{"alice-demo-key-0001", "bob-password", "opaque-good"} {
			if strings.Contains(p.out.String(), secret) {
				t.Errorf("aya's output holds a credential %q", secret)
			}
		}
	})
}

func noneToken(c jwt.MapClaims) string {
	s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
	return s
}
