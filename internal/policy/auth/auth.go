package auth

import (
	"errors"
	"log/slog"

	"aya/internal/httpx"
	"aya/internal/policy"
	"aya/internal/policy/consumer"
	"aya/internal/proxy"
)

// Consumers is where the policy looks callers up.
type Consumers interface {
	ByKey(h consumer.KeyHash) *policy.Consumer
	// ByBasic returns the consumer of a Basic username and its bcrypt hash.
	ByBasic(user string) (*policy.Consumer, []byte)
	ByClaims(src consumer.ClaimSource) *policy.Consumer
	Subscribed(consumer, api string) bool
}

// Options configure one auth policy. At least one method must be set.
type Options struct {
	Consumers Consumers
	APIKey    *APIKey
	Basic     *Basic
	JWT       *JWT
	OAuth2    *OAuth2
	// Optional lets requests without a credential through as anonymous.
	Optional bool
	// HideCredentials removes the credential from the request before it goes on.
	HideCredentials bool
	// API is the API the route belongs to when it requires a subscription; "" when not.
	API string
	Log *slog.Logger
}

// APIKey reads keys from a header and, when Query is set, from a query parameter.
type APIKey struct {
	Header string
	Query  string
}

// Basic checks HTTP Basic logins.
type Basic struct {
	Realm string
}

// Credential kinds recorded in policy.State.Credential.
const (
	CredAPIKey = "api_key"
	CredBasic  = "basic"
	CredJWT    = "jwt"
	CredOAuth2 = "oauth2"
)

type authn struct {
	next      httpx.Handler
	o         Options
	basic     *basicChecker
	jwt       *jwtVerifier
	oauth2    *OAuth2
	challenge []string // WWW-Authenticate values, one per method
	// claimHeaders are header names set from claims: removed from every request first, so a
	// client cannot send its own.
	claimHeaders []string
	log          *slog.Logger
}

// New builds the policy's middleware.
func New(o Options) (policy.Middleware, error) {
	if o.Consumers == nil {
		return nil, errors.New("auth: no consumer directory")
	}
	if o.APIKey == nil && o.Basic == nil && o.JWT == nil && o.OAuth2 == nil {
		return nil, errors.New("auth: name at least one method: api_key, basic, jwt or oauth2")
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	a := &authn{o: o, oauth2: o.OAuth2, log: o.Log}
	a.challenge = challenges(o)
	if o.Basic != nil {
		b, err := newBasicChecker()
		if err != nil {
			return nil, err
		}
		a.basic = b
	}
	if o.JWT != nil {
		v, err := newJWTVerifier(o.JWT)
		if err != nil {
			return nil, err
		}
		a.jwt = v
		a.claimHeaders = append(a.claimHeaders, headerNames(o.JWT.ClaimsToHeaders)...)
	}
	if o.OAuth2 != nil {
		if err := o.OAuth2.check(); err != nil {
			return nil, err
		}
		a.claimHeaders = append(a.claimHeaders, headerNames(o.OAuth2.ClaimsToHeaders)...)
	}
	return func(next httpx.Handler) httpx.Handler {
		c := *a
		c.next = next
		return &c
	}, nil
}

// outcome is what one method concluded.
type outcome uint8

const (
	none        outcome = iota // no credential of this kind in the request
	ok                         // authenticated: State is set
	invalid                    // a credential that does not authenticate
	unavailable                // the credential could not be checked now (introspection down)
)

func (a *authn) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	for _, h := range a.claimHeaders {
		r.Header.Del(h)
	}
	st := policy.From(r)
	res, why := a.authenticate(r, st)
	switch res {
	case invalid:
		a.refuse(w, r, why, true)
		return
	case unavailable:
		proxy.WriteError(w, r, 503, why)
		return
	case none:
		if !a.o.Optional || a.o.API != "" {
			a.refuse(w, r, "authentication required", false)
			return
		}
	}
	if a.o.API != "" && !a.o.Consumers.Subscribed(st.Consumer.Name, a.o.API) {
		proxy.WriteError(w, r, 403, "consumer "+st.Consumer.Name+" has no approved subscription to API "+a.o.API)
		return
	}
	a.next.ServeHTTPX(w, r)
}

// authenticate tries the methods in order; the first that finds a credential decides.
func (a *authn) authenticate(r *httpx.Request, st *policy.State) (outcome, string) {
	if k := a.o.APIKey; k != nil {
		if key, inQuery := apiKey(r, k); key != "" {
			res, why := a.checkKey(key, st)
			if res == ok && a.o.HideCredentials {
				hideKey(r, k, inQuery)
			}
			return res, why
		}
	}
	res, why := a.bearerOrBasic(r, st)
	if res == ok && a.o.HideCredentials {
		r.Header.Del("Authorization")
	}
	return res, why
}

// bearerOrBasic checks the Authorization header.
func (a *authn) bearerOrBasic(r *httpx.Request, st *policy.State) (outcome, string) {
	scheme, cred := authorization(r)
	switch {
	case scheme == schemeBasic && a.basic != nil:
		return a.checkBasic(cred, st)
	case scheme == schemeBearer && a.jwt != nil && looksLikeJWT(cred):
		return a.checkJWT(r, cred, st)
	case scheme == schemeBearer && a.oauth2 != nil:
		return a.checkIntrospect(r, cred, st)
	case scheme == schemeBearer && a.jwt != nil:
		return invalid, "bearer token is not a JWT"
	}
	return none, ""
}

func (a *authn) checkKey(key string, st *policy.State) (outcome, string) {
	h := consumer.Hash(key)
	c := a.o.Consumers.ByKey(h)
	if c == nil {
		return invalid, "invalid API key"
	}
	st.Consumer, st.Credential = c, CredAPIKey
	return ok, ""
}

// refuse answers 401 with the policy's challenges. tokenErr marks a bearer token that was
// present but wrong (RFC 6750 error="invalid_token").
func (a *authn) refuse(w httpx.ResponseWriter, r *httpx.Request, why string, tokenErr bool) {
	cw := &challengeWriter{ResponseWriter: w, values: a.challenge}
	if tokenErr {
		cw.values = withTokenError(a.challenge, why)
	}
	proxy.WriteError(cw, r, 401, why)
}

// challengeWriter adds WWW-Authenticate as the status is written: WriteError resets the
// header it writes.
type challengeWriter struct {
	httpx.ResponseWriter
	values []string
}

func (c *challengeWriter) WriteHeader(status int) {
	h := c.ResponseWriter.Header()
	for _, v := range c.values {
		h.Add("WWW-Authenticate", v)
	}
	c.ResponseWriter.WriteHeader(status)
}
