package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"aya/internal/httpx"
	"aya/internal/policy"
	"aya/internal/policy/consumer"
)

const (
	// maxIntrospectBody bounds an introspection answer.
	maxIntrospectBody = 64 << 10
	// maxIntrospectCache bounds the cached answers; the cache is emptied when full.
	maxIntrospectCache = 10000
)

// OAuth2 checks opaque bearer tokens at an RFC 7662 introspection endpoint and caches the
// answers (active or not) for CacheTTL, never past the token's exp. Concurrent requests with
// one token share one call.
type OAuth2 struct {
	URL             string
	ClientID        string
	ClientSecret    string
	CacheTTL        time.Duration
	Timeout         time.Duration
	ConsumerClaim   string // "" = sub; client_id is used when the answer lacks it
	ClaimsToHeaders map[string]string
	Client          *http.Client // nil: a client of its own
	Log             *slog.Logger

	header []claimHeader

	mu       sync.Mutex
	cache    map[consumer.KeyHash]introspected
	inflight map[consumer.KeyHash]*introspectCall
}

type introspected struct {
	active  bool
	claims  mapClaims
	expires time.Time
}

type introspectCall struct {
	done chan struct{}
	res  introspected
	err  error
}

func (o *OAuth2) check() error {
	if o.URL == "" {
		return errors.New("oauth2: introspection_url is required")
	}
	if o.Client == nil {
		o.Client = &http.Client{}
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.ConsumerClaim == "" {
		o.ConsumerClaim = "sub"
	}
	for c, h := range o.ClaimsToHeaders {
		o.header = append(o.header, claimHeader{c, h})
	}
	o.cache = map[consumer.KeyHash]introspected{}
	o.inflight = map[consumer.KeyHash]*introspectCall{}
	return nil
}

func (a *authn) checkIntrospect(r *httpx.Request, tok string, st *policy.State) (outcome, string) {
	o := a.oauth2
	res, err := o.introspect(r.Context(), tok)
	if err != nil {
		o.Log.Warn("token introspection failed", "url", o.URL, "err", err)
		return unavailable, "token introspection failed"
	}
	if !res.active {
		return invalid, "token not active"
	}
	c := a.o.Consumers.ByClaims(res.claims)
	if c == nil {
		name, _ := res.claims.Claim(o.ConsumerClaim)
		if name == "" {
			name, _ = res.claims.Claim("client_id")
		}
		if name == "" {
			return invalid, "token has no " + o.ConsumerClaim + " claim"
		}
		c = &policy.Consumer{Name: name}
	}
	st.Consumer, st.Credential = c, CredOAuth2
	st.Claims = appendClaims(st.Claims[:0], res.claims)
	setClaimHeaders(r, st, o.header)
	return ok, ""
}

func (o *OAuth2) introspect(ctx context.Context, tok string) (introspected, error) {
	key := consumer.Hash(tok)
	now := time.Now()
	o.mu.Lock()
	if c, hit := o.cache[key]; hit && now.Before(c.expires) {
		o.mu.Unlock()
		return c, nil
	}
	call, joined := o.inflight[key]
	if !joined {
		call = &introspectCall{done: make(chan struct{})}
		o.inflight[key] = call
	}
	o.mu.Unlock()
	if joined {
		select {
		case <-call.done:
			return call.res, call.err
		case <-ctx.Done():
			return introspected{}, ctx.Err()
		}
	}

	// Detached from the request: waiters share the call even when its first asker leaves.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.Timeout)
	call.res, call.err = o.call(cctx, tok)
	cancel()
	o.mu.Lock()
	delete(o.inflight, key)
	if call.err == nil && o.CacheTTL > 0 {
		if len(o.cache) >= maxIntrospectCache {
			clear(o.cache)
		}
		o.cache[key] = call.res
	}
	o.mu.Unlock()
	close(call.done)
	return call.res, call.err
}

func (o *OAuth2) call(ctx context.Context, tok string) (introspected, error) {
	form := url.Values{"token": {tok}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return introspected{}, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 2.3.1: client credentials are form-encoded before Basic encoding.
	req.SetBasicAuth(url.QueryEscape(o.ClientID), url.QueryEscape(o.ClientSecret))
	resp, err := o.Client.Do(req)
	if err != nil {
		return introspected{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, maxIntrospectBody))
		return introspected{}, fmt.Errorf("introspection endpoint answered %d", resp.StatusCode)
	}
	var claims map[string]any
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxIntrospectBody)).Decode(&claims); err != nil {
		return introspected{}, fmt.Errorf("introspection answer is not JSON: %w", err)
	}
	active, _ := claims["active"].(bool)
	res := introspected{active: active, claims: claims, expires: time.Now().Add(o.CacheTTL)}
	if exp, ok := claims["exp"].(float64); ok {
		if t := time.Unix(int64(exp), 0); t.Before(res.expires) {
			res.expires = t
		}
		if active && time.Now().After(time.Unix(int64(exp), 0)) {
			res.active = false // an endpoint that says active past exp is not believed
		}
	}
	delete(res.claims, "active")
	return res, nil
}
