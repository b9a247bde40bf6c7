package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"aya/internal/httpx"
	"aya/internal/policy"
	"aya/internal/policy/consumer"
)

type recorder struct {
	h      httpx.Header
	status int
	body   []byte
}

func (r *recorder) Header() *httpx.Header { return &r.h }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(200)
	r.body = append(r.body, p...)
	return len(p), nil
}
func (r *recorder) Flush() error { return nil }

const secret = "0123456789abcdef0123456789abcdef"

// seen is what the upstream stand-in saw of the request.
type seen struct {
	consumer, cred string
	header         httpx.Header
}

func upstream(s *seen) httpx.Handler {
	return httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		st := policy.From(r)
		if st.Consumer != nil {
			s.consumer = st.Consumer.Name
		}
		s.cred = st.Credential
		s.header = append(httpx.Header(nil), r.Header...)
		w.WriteHeader(200)
	})
}

func directory(t testing.TB) *consumer.View {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("bob-password"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	d, err := consumer.NewDirectory([]consumer.Spec{
		{Name: "alice", Groups: []string{"paid"}, Keys: []consumer.KeyHash{consumer.Hash("alice-key-0123456789")}},
		{Name: "bob", BasicUser: "bob", BasicHash: string(hash), Claims: []consumer.Claim{{Name: "sub", Value: "bob@example.com"}}},
		{Name: "carol", Keys: []consumer.KeyHash{consumer.Hash("carol-key-0123456789")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	subs := consumer.NewSubscriptions([]consumer.Subscription{{Consumer: "alice", API: "orders", Status: consumer.Approved}, {Consumer: "carol", API: "orders", Status: consumer.Pending}})
	return consumer.NewView(d, subs, nil)
}

func serve(t testing.TB, h httpx.Handler, target string, hdr ...string) *recorder {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	r := &httpx.Request{Method: "GET", Target: target, Path: path, Query: query, ID: "req-1"}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Add(hdr[i], hdr[i+1])
	}
	r.SetContext(policy.WithState(context.Background(), &policy.State{}))
	w := &recorder{}
	h.ServeHTTPX(w, r)
	return w
}

func build(t testing.TB, o Options, s *seen) httpx.Handler {
	t.Helper()
	if o.Consumers == nil {
		o.Consumers = directory(t)
	}
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return m(upstream(s))
}

func basicCred(u, p string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(u+":"+p))
}

func hs256(t testing.TB, claims jwt.MapClaims, key string) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestAPIKeyAndBasic(t *testing.T) {
	o := Options{APIKey: &APIKey{Header: "X-API-Key", Query: "api_key"}, Basic: &Basic{Realm: "shop"}}
	tests := []struct {
		name      string
		target    string
		hdr       []string
		status    int
		consumer  string
		cred      string
		challenge string
	}{
		{"key in header", "/", []string{"X-API-Key", "alice-key-0123456789"}, 200, "alice", CredAPIKey, ""},
		{"key in query", "/?a=1&api_key=alice-key-0123456789", nil, 200, "alice", CredAPIKey, ""},
		{"escaped key in query", "/?api_key=carol%2Dkey-0123456789", nil, 200, "carol", CredAPIKey, ""},
		{"header wins over query", "/?api_key=nope", []string{"x-api-key", "carol-key-0123456789"}, 200, "carol", CredAPIKey, ""},
		{"unknown key", "/", []string{"X-API-Key", "alice-key-0123456780"}, 401, "", "", `APIKey realm="shop", header="X-API-Key"`},
		{"no credential", "/", nil, 401, "", "", `APIKey realm="shop", header="X-API-Key"`},
		{"basic", "/", []string{"Authorization", basicCred("bob", "bob-password")}, 200, "bob", CredBasic, ""},
		{"basic scheme any case", "/", []string{"Authorization", "basic " + strings.TrimPrefix(basicCred("bob", "bob-password"), "Basic ")}, 200, "bob", CredBasic, ""},
		{"basic wrong password", "/", []string{"Authorization", basicCred("bob", "bob-passwore")}, 401, "", "", `Basic realm="shop", charset="UTF-8"`},
		{"basic unknown user", "/", []string{"Authorization", basicCred("eve", "bob-password")}, 401, "", "", `Basic realm="shop", charset="UTF-8"`},
		{"basic not base64", "/", []string{"Authorization", "Basic %%%"}, 401, "", "", ""},
		{"basic without colon", "/", []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte("bob"))}, 401, "", "", ""},
		{"first method decides", "/", []string{"X-API-Key", "wrong-key-000000", "Authorization", basicCred("bob", "bob-password")}, 401, "", "", ""},
		{"bearer not configured", "/", []string{"Authorization", "Bearer abc"}, 401, "", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s seen
			w := serve(t, build(t, o, &s), tc.target, tc.hdr...)
			if w.status != tc.status || s.consumer != tc.consumer || s.cred != tc.cred {
				t.Fatalf("status %d consumer %q cred %q, want %d %q %q (%s)", w.status, s.consumer, s.cred, tc.status, tc.consumer, tc.cred, w.body)
			}
			if tc.status == 401 {
				var got []string
				for _, f := range w.h {
					if f.Name == "WWW-Authenticate" {
						got = append(got, f.Value)
					}
				}
				if len(got) != 2 || (tc.challenge != "" && !strings.Contains(strings.Join(got, "|"), tc.challenge)) {
					t.Errorf("challenges %q, want two with %q", got, tc.challenge)
				}
				for _, h := range tc.hdr {
					if len(h) > 12 && strings.Contains(string(w.body), h) {
						t.Errorf("the error body echoes a credential: %s", w.body)
					}
				}
			}
		})
	}
}

func TestHideCredentials(t *testing.T) {
	var query string
	tests := []struct {
		name, target string
		hdr          []string
		wantQuery    string
		gone         string
	}{
		{"key header", "/?a=1", []string{"X-API-Key", "alice-key-0123456789"}, "a=1", "X-API-Key"},
		{"key query", "/?a=1&api_key=alice-key-0123456789&b=2", nil, "a=1&b=2", ""},
		{"basic", "/", []string{"Authorization", basicCred("bob", "bob-password")}, "", "Authorization"},
		{"jwt", "/", []string{"Authorization", "Bearer " + hs256(t, jwt.MapClaims{"sub": "x"}, secret)}, "", "Authorization"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New(Options{Consumers: directory(t), APIKey: &APIKey{Header: "X-API-Key", Query: "api_key"}, Basic: &Basic{},
				JWT: &JWT{Secret: []byte(secret)}, HideCredentials: true})
			if err != nil {
				t.Fatal(err)
			}
			var hdr httpx.Header
			h := m(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
				query, hdr = r.Query, append(httpx.Header(nil), r.Header...)
			}))
			if w := serve(t, h, tc.target, tc.hdr...); w.status != 0 {
				t.Fatalf("status %d %s", w.status, w.body)
			}
			if query != tc.wantQuery || (tc.gone != "" && hdr.Has(tc.gone)) {
				t.Errorf("upstream query %q headers %v, want query %q without %s", query, hdr, tc.wantQuery, tc.gone)
			}
		})
	}
}

func TestOptionalAndSubscription(t *testing.T) {
	tests := []struct {
		name   string
		o      Options
		hdr    []string
		status int
		body   string
	}{
		{"optional anonymous", Options{APIKey: &APIKey{Header: "X-API-Key"}, Optional: true}, nil, 200, ""},
		{"optional wrong key", Options{APIKey: &APIKey{Header: "X-API-Key"}, Optional: true}, []string{"X-API-Key", "bad-key-00000"}, 401, "invalid API key"},
		{"subscribed", Options{APIKey: &APIKey{Header: "X-API-Key"}, API: "orders"}, []string{"X-API-Key", "alice-key-0123456789"}, 200, ""},
		{"pending subscription", Options{APIKey: &APIKey{Header: "X-API-Key"}, API: "orders"}, []string{"X-API-Key", "carol-key-0123456789"}, 403, "consumer carol has no approved subscription to API orders"},
		{"anonymous on a subscribed API", Options{APIKey: &APIKey{Header: "X-API-Key"}, API: "orders", Optional: true}, nil, 401, "authentication required"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s seen
			w := serve(t, build(t, tc.o, &s), "/", tc.hdr...)
			if w.status != tc.status || !strings.Contains(string(w.body), tc.body) {
				t.Fatalf("status %d body %s, want %d %q", w.status, w.body, tc.status, tc.body)
			}
		})
	}
}

func TestJWT(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edKey, _ := ed25519.GenerateKey(rand.Reader)
	now := time.Now()
	good := jwt.MapClaims{"sub": "dave", "iss": "https://idp", "aud": "api", "exp": now.Add(time.Hour).Unix(), "groups": []any{"a", "b"}, "n": 12345678}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for a, b := range good {
			c[a] = b
		}
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	sign := func(m jwt.SigningMethod, c jwt.MapClaims, key any) string {
		s, err := jwt.NewWithClaims(m, c).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	none := func(c jwt.MapClaims) string {
		s, _ := jwt.NewWithClaims(jwt.SigningMethodNone, c).SignedString(jwt.UnsafeAllowNoneSignatureType)
		return s
	}
	o := Options{JWT: &JWT{Secret: []byte(secret), PublicKeys: []crypto.PublicKey{pub, &ecKey.PublicKey, edPub}, Issuer: "https://idp", Audience: []string{"api"},
		Leeway: time.Second, ClaimsToHeaders: map[string]string{"sub": "X-User", "groups": "X-Groups"}}}
	tests := []struct {
		name     string
		token    string
		status   int
		consumer string
		why      string
	}{
		{"HS256", hs256(t, good, secret), 200, "dave", ""},
		{"RS256", sign(jwt.SigningMethodRS256, good, rsaKey), 200, "dave", ""},
		{"PS384", sign(jwt.SigningMethodPS384, good, rsaKey), 200, "dave", ""},
		{"ES256", sign(jwt.SigningMethodES256, good, ecKey), 200, "dave", ""},
		{"EdDSA", sign(jwt.SigningMethodEdDSA, good, edKey), 200, "dave", ""},
		{"consumer by sub", hs256(t, with("sub", "bob@example.com"), secret), 200, "bob", ""},
		{"expired", hs256(t, with("exp", now.Add(-time.Hour).Unix()), secret), 401, "", "token expired"},
		{"not yet valid", hs256(t, with("nbf", now.Add(time.Hour).Unix()), secret), 401, "", "token not valid yet"},
		{"wrong audience", hs256(t, with("aud", "other"), secret), 401, "", "token audience not accepted"},
		{"no audience", hs256(t, with("aud", nil), secret), 401, "", "token lacks a required claim"},
		{"wrong issuer", hs256(t, with("iss", "https://evil"), secret), 401, "", "token issuer not accepted"},
		{"wrong secret", hs256(t, good, strings.Repeat("x", 32)), 401, "", "token signature invalid"},
		{"alg none", none(good), 401, "", "token"},
		{"HS256 signed with the RSA public key", hs256(t, good, string(pubPEM)), 401, "", "token signature invalid"},
		{"wrong RSA key", sign(jwt.SigningMethodRS256, good, mustRSA(t)), 401, "", "token signature invalid"},
		{"no sub", hs256(t, with("sub", nil), secret), 401, "", "token has no sub claim"},
		{"garbage", "a.b.c", 401, "", "token malformed"},
		{"opaque token", "opaque", 401, "", "bearer token is not a JWT"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s seen
			w := serve(t, build(t, o, &s), "/", "Authorization", "Bearer "+tc.token, "X-User", "spoofed")
			if w.status != tc.status || s.consumer != tc.consumer {
				t.Fatalf("status %d consumer %q, want %d %q (%s)", w.status, s.consumer, tc.status, tc.consumer, w.body)
			}
			if tc.status == 401 {
				ch := w.h.Get("WWW-Authenticate")
				if !strings.Contains(ch, `error="invalid_token"`) || !strings.Contains(ch, tc.why) {
					t.Errorf("challenge %q, want invalid_token with %q", ch, tc.why)
				}
				return
			}
			if s.cred != CredJWT || s.header.Count("X-User") != 1 || s.header.Get("X-User") != good["sub"] && tc.consumer == "dave" || s.header.Get("X-Groups") != "a,b" {
				t.Errorf("cred %q headers %v", s.cred, s.header)
			}
		})
	}
}

func mustRSA(t *testing.T) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestJWTClaimsInState(t *testing.T) {
	var claims []httpx.Field
	m, _ := New(Options{Consumers: directory(t), JWT: &JWT{Secret: []byte(secret)}})
	h := m(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
		claims = append(claims, policy.From(r).Claims...)
	}))
	serve(t, h, "/", "Authorization", "Bearer "+hs256(t, jwt.MapClaims{"sub": "x", "n": 1700000000, "obj": map[string]any{"a": 1}}, secret))
	want := []httpx.Field{{Name: "n", Value: "1700000000"}, {Name: "obj", Value: `{"a":1}`}, {Name: "sub", Value: "x"}}
	if len(claims) != 3 || claims[0] != want[0] || claims[1] != want[1] || claims[2] != want[2] {
		t.Errorf("claims %v, want %v", claims, want)
	}
}

// jwksServer serves the public keys of its current signing keys.
type jwksServer struct {
	keys  atomic.Pointer[[]jwksKey]
	calls atomic.Int32
}

type jwksKey struct {
	kid string
	key *rsa.PrivateKey
}

func (j *jwksServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	j.calls.Add(1)
	var out []map[string]string
	for _, k := range *j.keys.Load() {
		out = append(out, map[string]string{"kty": "RSA", "kid": k.kid, "use": "sig", "alg": "RS256",
			"n": base64.RawURLEncoding.EncodeToString(k.key.N.Bytes()),
			"e": base64.RawURLEncoding.EncodeToString(big.NewInt(int64(k.key.E)).Bytes())})
	}
	json.NewEncoder(w).Encode(map[string]any{"keys": out})
}

func TestJWKSRotation(t *testing.T) {
	k1, k2 := jwksKey{"k1", mustRSA(t)}, jwksKey{"k2", mustRSA(t)}
	js := &jwksServer{}
	js.keys.Store(&[]jwksKey{k1})
	srv := httptest.NewServer(js)
	defer srv.Close()
	set := NewJWKS(JWKSOptions{URL: srv.URL, Refresh: time.Hour, FetchTimeout: 5 * time.Second, MinRefetch: 500 * time.Millisecond})
	defer set.Close()
	var s seen
	h := build(t, Options{JWT: &JWT{JWKS: set}}, &s)
	token := func(k jwksKey) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"sub": "svc", "exp": time.Now().Add(time.Minute).Unix()})
		tok.Header["kid"] = k.kid
		out, err := tok.SignedString(k.key)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if w := serve(t, h, "/", "Authorization", "Bearer "+token(k1)); w.status != 200 {
		t.Fatalf("k1: %d %s", w.status, w.body)
	}
	js.keys.Store(&[]jwksKey{k2})      // the issuer rotates
	time.Sleep(600 * time.Millisecond) // past MinRefetch
	if w := serve(t, h, "/", "Authorization", "Bearer "+token(k2)); w.status != 200 {
		t.Fatalf("k2 after rotation: %d %s", w.status, w.body)
	}
	if w := serve(t, h, "/", "Authorization", "Bearer "+token(k1)); w.status != 401 {
		t.Errorf("k1 after rotation: %d, want 401", w.status)
	}
	// made-up key ids do not make a fetch each
	before := js.calls.Load()
	for range 20 {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{"sub": "x"})
		tok.Header["kid"] = "made-up"
		raw, _ := tok.SignedString(k2.key)
		serve(t, h, "/", "Authorization", "Bearer "+raw)
	}
	if n := js.calls.Load() - before; n > 1 {
		t.Errorf("%d fetches for 20 unknown key ids, want at most 1 (rate-limited)", n)
	}
}

func TestJWKSFetchTimeout(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	set := NewJWKS(JWKSOptions{URL: srv.URL, Refresh: time.Hour, FetchTimeout: 100 * time.Millisecond, MinRefetch: time.Millisecond})
	defer set.Close()
	start := time.Now()
	keys, err := set.Keys(context.Background(), "k")
	if err != nil || len(keys) != 0 {
		t.Errorf("keys %v err %v", keys, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a stuck key server held a request %v", d)
	}
}

func TestParseJWKS(t *testing.T) {
	tests := []struct {
		name, doc string
		keys      int
		err       string
	}{
		{"not json", `{`, 0, "key set is not JSON"},
		{"skips enc and unknown", `{"keys":[{"kty":"RSA","use":"enc"},{"kty":"oct","k":"x"},{"kty":"EC","crv":"secp256k1"}]}`, 0, ""},
		{"ed25519", `{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"e","x":"` + base64.RawURLEncoding.EncodeToString(make([]byte, 32)) + `"}]}`, 1, ""},
		{"short ed25519", `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AAAA"}]}`, 0, "32 bytes"},
		{"small rsa", `{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`, 0, "2048 bits"},
		{"ec", ecJWK(t), 1, ""},
		{"ec off curve", `{"keys":[{"kty":"EC","crv":"P-256","x":"AQ","y":"AQ"}]}`, 0, "a point on P-256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ks, err := ParseJWKS([]byte(tc.doc))
			if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) || len(ks) != tc.keys {
				t.Errorf("keys %d err %v, want %d %q", len(ks), err, tc.keys, tc.err)
			}
		})
	}
}

func ecJWK(t *testing.T) string {
	k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := k.PublicKey.Bytes()
	enc := base64.RawURLEncoding.EncodeToString
	return `{"keys":[{"kty":"EC","crv":"P-384","kid":"e","x":"` + enc(b[1:49]) + `","y":"` + enc(b[49:]) + `"}]}`
}

func FuzzParseJWKS(f *testing.F) {
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"},{"kty":"EC","crv":"P-256","x":"AQ","y":"AQ"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) { ParseJWKS(b) })
}

func FuzzAuthorization(f *testing.F) {
	h := build(f, Options{APIKey: &APIKey{Header: "X-API-Key", Query: "k"}, Basic: &Basic{}, JWT: &JWT{Secret: []byte(secret)}}, &seen{})
	f.Add("Basic Ym9iOmJvYi1wYXNzd29yZA==", "k=%zz")
	f.Add("Bearer a.b.c", "")
	f.Fuzz(func(t *testing.T, authz, query string) {
		w := serve(t, h, "/?"+query, "Authorization", authz)
		if w.status != 200 && w.status != 401 {
			t.Fatalf("status %d", w.status)
		}
	})
}

func TestIntrospection(t *testing.T) {
	var calls atomic.Int32
	var down atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if down.Load() {
			w.WriteHeader(500)
			return
		}
		id, sec, _ := r.BasicAuth()
		if id != "aya" || sec != "s%3Acret" || r.PostFormValue("token_type_hint") != "access_token" {
			w.WriteHeader(401)
			return
		}
		switch r.PostFormValue("token") {
		case "good":
			json.NewEncoder(w).Encode(map[string]any{"active": true, "client_id": "app-1", "scope": "read", "exp": time.Now().Add(time.Hour).Unix()})
		case "bob":
			json.NewEncoder(w).Encode(map[string]any{"active": true, "sub": "bob@example.com"})
		case "stale":
			json.NewEncoder(w).Encode(map[string]any{"active": true, "sub": "x", "exp": time.Now().Add(-time.Hour).Unix()})
		default:
			json.NewEncoder(w).Encode(map[string]any{"active": false})
		}
	}))
	defer srv.Close()
	var s seen
	h := build(t, Options{OAuth2: &OAuth2{URL: srv.URL, ClientID: "aya", ClientSecret: "s:cret", CacheTTL: time.Minute, Timeout: 5 * time.Second,
		ClaimsToHeaders: map[string]string{"scope": "X-Scope"}}}, &s)
	tests := []struct {
		token    string
		status   int
		consumer string
	}{
		{"good", 200, "app-1"}, {"bob", 200, "bob"}, {"revoked", 401, ""}, {"stale", 401, ""},
	}
	for _, tc := range tests {
		s = seen{}
		w := serve(t, h, "/", "Authorization", "Bearer "+tc.token)
		if w.status != tc.status || s.consumer != tc.consumer {
			t.Errorf("%s: status %d consumer %q, want %d %q (%s)", tc.token, w.status, s.consumer, tc.status, tc.consumer, w.body)
		}
	}
	if serve(t, h, "/", "Authorization", "Bearer good").status != 200 {
		t.Error("cached good token")
	}
	if n := calls.Load(); n != 4 {
		t.Errorf("%d introspection calls for 5 requests over 4 tokens, want 4 (cached)", n)
	}
	down.Store(true)
	if w := serve(t, h, "/", "Authorization", "Bearer other"); w.status != 503 {
		t.Errorf("endpoint down: %d, want 503", w.status)
	}
	if w := serve(t, h, "/", "Authorization", "Bearer good"); w.status != 200 {
		t.Errorf("cached answer while the endpoint is down: %d", w.status)
	}
}

func BenchmarkAPIKey(b *testing.B) {
	m, _ := New(Options{Consumers: directory(b), APIKey: &APIKey{Header: "X-API-Key"}})
	h := m(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {}))
	r := &httpx.Request{Method: "GET", Path: "/", Header: httpx.Header{{Name: "Host", Value: "x"}, {Name: "X-API-Key", Value: "alice-key-0123456789"}}}
	st := &policy.State{}
	r.SetContext(policy.WithState(context.Background(), st))
	w := &recorder{}
	b.ReportAllocs()
	for b.Loop() {
		st.Reset()
		h.ServeHTTPX(w, r)
	}
	if st.Consumer == nil {
		b.Fatal("not authenticated")
	}
}

func BenchmarkJWTHS256(b *testing.B) {
	m, _ := New(Options{Consumers: directory(b), JWT: &JWT{Secret: []byte(secret)}})
	h := m(httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {}))
	tok := "Bearer " + hs256(b, jwt.MapClaims{"sub": "bob@example.com", "exp": time.Now().Add(time.Hour).Unix()}, secret)
	r := &httpx.Request{Method: "GET", Path: "/", Header: httpx.Header{{Name: "Authorization", Value: tok}}}
	st := &policy.State{}
	r.SetContext(policy.WithState(context.Background(), st))
	w := &recorder{}
	b.ReportAllocs()
	for b.Loop() {
		st.Reset()
		h.ServeHTTPX(w, r)
	}
	if st.Consumer == nil {
		b.Fatal("not authenticated")
	}
}
