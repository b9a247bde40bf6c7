package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"time"

	"golang.org/x/crypto/bcrypt"

	"aya/internal/config"
	"aya/internal/policy/consumer"
)

// mountAuthAdmin adds the consumer and subscription endpoints to the admin API. Secrets never
// leave aya through them: keys show as the first bytes of their SHA-256, logins by username,
// and a generated key is in the answer that creates it and nowhere else.
func (g *Gateway) mountAuthAdmin(mux *http.ServeMux, cfg config.Admin) {
	h := func(pattern string, f http.HandlerFunc) { mux.Handle(pattern, auth(cfg.Token, f)) }
	h("GET /consumers", g.handleConsumers)
	h("POST /consumers", g.handlePutConsumer)
	h("GET /consumers/{name}", g.handleConsumer)
	h("DELETE /consumers/{name}", g.handleDeleteConsumer)
	h("POST /consumers/{name}/keys", g.handleNewKey)
	h("GET /apis", g.handleAPIs)
	h("GET /subscriptions", g.handleSubscriptions)
	h("POST /subscriptions", g.handleRequestSubscription)
	h("POST /subscriptions/{id}/approve", g.handleSubscriptionStatus(consumer.Approved))
	h("POST /subscriptions/{id}/revoke", g.handleSubscriptionStatus(consumer.Revoked))
}

// consumerView is a consumer as the admin API shows it.
type consumerView struct {
	Name     string            `json:"name"`
	Tenant   string            `json:"tenant,omitempty"`
	Groups   []string          `json:"groups"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// Source is "config" (the file) or "admin" (added or changed through this API).
	Source string `json:"source"`
	// APIKeys are "sha256:" and the first 8 hex digits of each key's hash.
	APIKeys []string        `json:"api_keys"`
	Basic   *basicView      `json:"basic,omitempty"`
	JWT     []consumerClaim `json:"jwt,omitempty"`
}

type basicView struct {
	Username string `json:"username"`
}

type consumerClaim struct {
	Claim string `json:"claim"`
	Value string `json:"value"`
}

func viewOf(e *consumer.Entry, source string) consumerView {
	s := e.Spec
	v := consumerView{Name: s.Name, Tenant: s.Tenant, Groups: s.Groups, Metadata: s.Metadata, Source: source, APIKeys: []string{}}
	if v.Groups == nil {
		v.Groups = []string{}
	}
	for _, k := range s.Keys {
		v.APIKeys = append(v.APIKeys, keyID(k))
	}
	if s.BasicUser != "" {
		v.Basic = &basicView{Username: s.BasicUser}
	}
	for _, c := range s.Claims {
		v.JWT = append(v.JWT, consumerClaim{c.Name, c.Value})
	}
	return v
}

// keyID names a key by its hash's first 4 bytes: enough to tell keys apart, useless to guess.
func keyID(h consumer.KeyHash) string { return "sha256:" + hex.EncodeToString(h[:4]) }

// authView is the live config's consumers with the admin API's over them.
func (g *Gateway) authView(w http.ResponseWriter) (*consumer.View, *config.Config, bool) {
	cfg := g.snap.Load().cfg
	v, err := g.pol.auth.view(cfg)
	if err != nil {
		adminError(w, 500, err.Error())
		return nil, nil, false
	}
	return v, cfg, true
}

func (g *Gateway) handleConsumers(w http.ResponseWriter, _ *http.Request) {
	v, _, ok := g.authView(w)
	if !ok {
		return
	}
	entries, sources := v.Entries()
	out := make([]consumerView, len(entries))
	for i, e := range entries {
		out[i] = viewOf(e, sources[i])
	}
	writeJSON(w, 200, map[string]any{"consumers": out})
}

func (g *Gateway) handleConsumer(w http.ResponseWriter, r *http.Request) {
	v, _, ok := g.authView(w)
	if !ok {
		return
	}
	name := r.PathValue("name")
	e, src := v.Get(name)
	if e == nil {
		adminError(w, 404, "no consumer named "+name+"; GET /consumers lists them")
		return
	}
	writeJSON(w, 200, viewOf(e, src))
}

// consumerBody is what POST /consumers takes.
type consumerBody struct {
	Name     string            `json:"name"`
	Tenant   string            `json:"tenant"`
	Groups   []string          `json:"groups"`
	Metadata map[string]string `json:"metadata"`
	APIKeys  []string          `json:"api_keys"`
	Basic    *struct {
		Username     string `json:"username"`
		PasswordHash string `json:"password_hash"`
	} `json:"basic"`
	JWT *struct {
		Subject string `json:"subject"`
		Claim   string `json:"claim"`
		Value   string `json:"value"`
	} `json:"jwt"`
}

const consumerExample = `{"name": "alice", "groups": ["paid"], "api_keys": ["..."], "basic": {"username": "alice", "password_hash": "$2y$10$..."}, "jwt": {"subject": "alice@example.com"}}`

func (b *consumerBody) spec() (consumer.Spec, error) {
	s := consumer.Spec{Name: b.Name, Tenant: b.Tenant, Groups: b.Groups, Metadata: b.Metadata}
	if !validAdminName(b.Name) {
		return s, errors.New("name is required: use letters, digits, '-', '_' and '.'")
	}
	for i, k := range b.APIKeys {
		if len(k) < 8 {
			return s, errors.New("api_keys[" + strconv.Itoa(i) + "] is shorter than 8 characters: use a long random key, or POST /consumers/{name}/keys to have aya make one")
		}
		s.Keys = append(s.Keys, consumer.Hash(k))
	}
	if bb := b.Basic; bb != nil {
		if bb.Username == "" || slices.Contains([]byte(bb.Username), ':') {
			return s, errors.New("basic.username is required and must not contain ':'")
		}
		if _, err := bcrypt.Cost([]byte(bb.PasswordHash)); err != nil {
			return s, errors.New("basic.password_hash must be a bcrypt hash: make one with htpasswd -nbBC 10 USER PASSWORD")
		}
		s.BasicUser, s.BasicHash = bb.Username, bb.PasswordHash
	}
	if j := b.JWT; j != nil {
		switch {
		case j.Subject != "" && j.Claim == "" && j.Value == "":
			s.Claims = []consumer.Claim{{Name: "sub", Value: j.Subject}}
		case j.Subject == "" && j.Claim != "" && j.Value != "":
			s.Claims = []consumer.Claim{{Name: j.Claim, Value: j.Value}}
		default:
			return s, errors.New(`jwt: write {"subject": SUB} or {"claim": NAME, "value": VALUE}`)
		}
	}
	return s, nil
}

func validAdminName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '-' || c == '_' || c == '.' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return s != "" && len(s) <= 128
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	return dec.Decode(v)
}

// handlePutConsumer adds a consumer, or replaces one by name (a consumer of the file too: the
// admin API's record wins until DELETE removes it).
func (g *Gateway) handlePutConsumer(w http.ResponseWriter, r *http.Request) {
	var body consumerBody
	if err := decodeBody(r, &body); err != nil {
		adminError(w, 400, "consumer: the body must be JSON like "+consumerExample+": "+err.Error())
		return
	}
	s, err := body.spec()
	if err != nil {
		adminError(w, 400, "consumer: "+err.Error())
		return
	}
	g.putConsumer(w, r, s, 201)
}

func (g *Gateway) putConsumer(w http.ResponseWriter, r *http.Request, s consumer.Spec, status int) bool {
	v, _, ok := g.authView(w)
	if !ok {
		return false
	}
	if err := v.Check(s); err != nil {
		adminError(w, 409, err.Error())
		return false
	}
	if err := g.pol.auth.reg.PutConsumer(r.Context(), s); err != nil {
		status := 409
		if errors.Is(err, consumer.ErrStore) {
			status = 500
		}
		adminError(w, status, err.Error())
		return false
	}
	g.shareConsumer(r.Context(), s)
	auditNote(r, "consumer", s.Name)
	if status != 0 {
		e, src := v.Get(s.Name)
		writeJSON(w, status, viewOf(e, src))
	}
	return true
}

func (g *Gateway) handleDeleteConsumer(w http.ResponseWriter, r *http.Request) {
	v, cfg, ok := g.authView(w)
	if !ok {
		return
	}
	name := r.PathValue("name")
	deleted, err := g.pol.auth.reg.DeleteConsumer(r.Context(), name)
	if err != nil {
		adminError(w, 500, err.Error())
		return
	}
	inFile := v.InFile(name) != nil
	switch {
	case !deleted && inFile:
		adminError(w, 409, "consumer "+name+" is defined in "+cfg.File+": remove it there and reload")
		return
	case !deleted:
		adminError(w, 404, "no consumer named "+name+"; GET /consumers lists them")
		return
	}
	g.shareConsumerDeleted(r.Context(), name)
	auditNote(r, "consumer", name)
	writeJSON(w, 200, map[string]any{"deleted": name, "config_consumer_back": inFile})
}

// handleNewKey makes a random key for the consumer, keeps its hash and answers the key: the
// only time it is shown.
func (g *Gateway) handleNewKey(w http.ResponseWriter, r *http.Request) {
	v, _, ok := g.authView(w)
	if !ok {
		return
	}
	name := r.PathValue("name")
	e, _ := v.Get(name)
	if e == nil {
		adminError(w, 404, "no consumer named "+name+"; GET /consumers lists them")
		return
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		adminError(w, 500, "generate key: "+err.Error())
		return
	}
	key := "aya_" + base64.RawURLEncoding.EncodeToString(raw)
	s := e.Spec
	s.Keys = append(slices.Clone(s.Keys), consumer.Hash(key))
	if !g.putConsumer(w, r, s, 0) {
		return
	}
	writeJSON(w, 201, map[string]any{"consumer": name, "key": key, "id": keyID(consumer.Hash(key)),
		"note": "store this key now: aya keeps only its hash and cannot show it again"})
}

func (g *Gateway) handleAPIs(w http.ResponseWriter, _ *http.Request) {
	cfg := g.snap.Load().cfg
	type apiView struct {
		Name                 string   `json:"name"`
		Routes               []string `json:"routes"`
		SubscriptionRequired bool     `json:"subscription_required"`
	}
	out := make([]apiView, len(cfg.APIs))
	for i, a := range cfg.APIs {
		out[i] = apiView{a.Name, a.Routes, a.SubscriptionRequired}
	}
	writeJSON(w, 200, map[string]any{"apis": out})
}

func (g *Gateway) handleSubscriptions(w http.ResponseWriter, _ *http.Request) {
	v, _, ok := g.authView(w)
	if !ok {
		return
	}
	subs := v.Subscriptions()
	if subs == nil {
		subs = []consumer.Subscription{}
	}
	writeJSON(w, 200, map[string]any{"subscriptions": subs})
}

// handleRequestSubscription records a consumer's request to call an API, pending approval. An
// approved subscription stays approved.
func (g *Gateway) handleRequestSubscription(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Consumer string `json:"consumer"`
		API      string `json:"api"`
	}
	if err := decodeBody(r, &body); err != nil {
		adminError(w, 400, `subscription: the body must be JSON like {"consumer": "alice", "api": "orders"}: `+err.Error())
		return
	}
	v, cfg, ok := g.authView(w)
	if !ok {
		return
	}
	if e, _ := v.Get(body.Consumer); e == nil {
		adminError(w, 404, "no consumer named "+body.Consumer+"; GET /consumers lists them")
		return
	}
	if !slices.ContainsFunc(cfg.APIs, func(a config.API) bool { return a.Name == body.API }) {
		adminError(w, 404, "no api named "+body.API+"; GET /apis lists them")
		return
	}
	id := consumer.SubscriptionID(body.Consumer, body.API)
	if s, found := v.Subscription(id); found && s.Status == consumer.Approved {
		writeJSON(w, 200, s)
		return
	}
	g.setSubscription(w, r, consumer.Subscription{ID: id, Consumer: body.Consumer, API: body.API, Status: consumer.Pending}, 201)
}

func (g *Gateway) handleSubscriptionStatus(status consumer.Status) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v, _, ok := g.authView(w)
		if !ok {
			return
		}
		id := r.PathValue("id")
		s, found := v.Subscription(id)
		if !found {
			adminError(w, 404, "no subscription "+id+"; GET /subscriptions lists them")
			return
		}
		s.Status = status
		g.setSubscription(w, r, s, 200)
	}
}

func (g *Gateway) setSubscription(w http.ResponseWriter, r *http.Request, s consumer.Subscription, code int) {
	s.Updated = time.Now().UTC()
	if err := g.pol.auth.reg.PutSubscription(r.Context(), s); err != nil {
		adminError(w, 500, err.Error())
		return
	}
	g.shareSubscription(r.Context(), s)
	auditNote(r, "subscription", s.ID+" "+string(s.Status))
	v, _, ok := g.authView(w)
	if !ok {
		return
	}
	out, _ := v.Subscription(s.ID)
	writeJSON(w, code, out)
}
