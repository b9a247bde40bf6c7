package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"aya/internal/httpx"
	"aya/internal/policy"
)

// JWT verifies bearer JWTs. At least one of Secret, PublicKeys and JWKS is set.
type JWT struct {
	Secret     []byte
	PublicKeys []crypto.PublicKey
	JWKS       KeySource
	Issuer     string
	Audience   []string // the token's aud must hold one of these; empty: not checked
	Leeway     time.Duration
	// Algorithms accepted; empty: every algorithm the keys above can verify.
	Algorithms []string
	// ClaimsToHeaders copies claims to upstream request headers (claim → header).
	ClaimsToHeaders map[string]string
	// ConsumerClaim names the ad-hoc consumer of a token no consumer's claim match fits.
	ConsumerClaim string
}

// KeySource finds verification keys by key id, fetching them when it must (a JWKS URL).
type KeySource interface {
	// Keys returns the keys of id kid ("": every key). A kid it does not know makes it fetch
	// the set again (rate-limited) before answering.
	Keys(ctx context.Context, kid string) ([]JWK, error)
}

// JWK is one verification key of a set; Alg is "" when the set does not pin one.
type JWK struct {
	Key crypto.PublicKey
	Alg string
}

var (
	hmacAlgs = []string{"HS256", "HS384", "HS512"}
	rsaAlgs  = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"}
	ecAlgs   = []string{"ES256", "ES384", "ES512"}
	edAlgs   = []string{"EdDSA"}
	errNoKey = errors.New("no key for the token")
)

type jwtVerifier struct {
	o      *JWT
	parser *jwt.Parser
	header []claimHeader
}

type claimHeader struct{ claim, header string }

func newJWTVerifier(o *JWT) (*jwtVerifier, error) {
	if len(o.Secret) == 0 && len(o.PublicKeys) == 0 && o.JWKS == nil {
		return nil, errors.New("jwt: name the verification key: secret, public_key or jwks_url")
	}
	algs := o.Algorithms
	if len(algs) == 0 {
		algs = defaultAlgorithms(o)
	}
	for _, a := range algs {
		if jwt.GetSigningMethod(a) == nil || a == "none" {
			return nil, fmt.Errorf("jwt: algorithm %q is not supported", a)
		}
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithLeeway(o.Leeway), jwt.WithIssuedAt()}
	if o.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(o.Issuer))
	}
	if len(o.Audience) > 0 {
		opts = append(opts, jwt.WithAudience(o.Audience...))
	}
	if o.ConsumerClaim == "" {
		o.ConsumerClaim = "sub"
	}
	v := &jwtVerifier{o: o, parser: jwt.NewParser(opts...)}
	for c, h := range o.ClaimsToHeaders {
		v.header = append(v.header, claimHeader{c, h})
	}
	slices.SortFunc(v.header, func(a, b claimHeader) int { return strings.Compare(a.header, b.header) })
	return v, nil
}

// defaultAlgorithms are those the configured keys can verify.
func defaultAlgorithms(o *JWT) []string {
	var algs []string
	if len(o.Secret) > 0 {
		algs = append(algs, hmacAlgs...)
	}
	if o.JWKS != nil {
		return slices.Concat(algs, rsaAlgs, ecAlgs, edAlgs)
	}
	for _, k := range o.PublicKeys {
		switch k.(type) {
		case *rsa.PublicKey:
			algs = append(algs, rsaAlgs...)
		case *ecdsa.PublicKey:
			algs = append(algs, ecAlgs...)
		case ed25519.PublicKey:
			algs = append(algs, edAlgs...)
		}
	}
	return slices.Compact(algs)
}

// keyFits reports whether key can verify alg. Checking the type here keeps an RSA public key
// from ever being used as an HMAC secret (the classic algorithm-confusion attack).
func keyFits(alg string, key any) bool {
	switch k := key.(type) {
	case []byte:
		return slices.Contains(hmacAlgs, alg)
	case *rsa.PublicKey:
		return slices.Contains(rsaAlgs, alg)
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return k.Curve == elliptic.P256()
		case "ES384":
			return k.Curve == elliptic.P384()
		case "ES512":
			return k.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// keyfunc picks the keys that may have signed t.
func (v *jwtVerifier) keyfunc(ctx context.Context) jwt.Keyfunc {
	return func(t *jwt.Token) (any, error) {
		alg := t.Method.Alg()
		if slices.Contains(hmacAlgs, alg) {
			if len(v.o.Secret) == 0 {
				return nil, errNoKey
			}
			return v.o.Secret, nil
		}
		var set jwt.VerificationKeySet
		for _, k := range v.o.PublicKeys {
			if keyFits(alg, k) {
				set.Keys = append(set.Keys, k)
			}
		}
		if v.o.JWKS != nil {
			kid, _ := t.Header["kid"].(string)
			keys, err := v.o.JWKS.Keys(ctx, kid)
			if err != nil && len(set.Keys) == 0 {
				return nil, err
			}
			for _, k := range keys {
				if (k.Alg == "" || k.Alg == alg) && keyFits(alg, k.Key) {
					set.Keys = append(set.Keys, k.Key)
				}
			}
		}
		switch len(set.Keys) {
		case 0:
			return nil, errNoKey
		case 1:
			return set.Keys[0], nil
		}
		return set, nil
	}
}

func (a *authn) checkJWT(r *httpx.Request, raw string, st *policy.State) (outcome, string) {
	v := a.jwt
	claims := jwt.MapClaims{}
	_, err := v.parser.ParseWithClaims(raw, claims, v.keyfunc(r.Context()))
	if err != nil {
		return invalid, jwtError(err)
	}
	src := mapClaims(claims)
	c := a.o.Consumers.ByClaims(src)
	if c == nil {
		name, found := src.Claim(v.o.ConsumerClaim)
		if !found || name == "" {
			return invalid, "token has no " + v.o.ConsumerClaim + " claim"
		}
		// A token from a trusted issuer that no consumer claims is still a known caller: it
		// is named by its claim, with no groups and no subscriptions.
		c = &policy.Consumer{Name: name}
	}
	st.Consumer, st.Credential = c, CredJWT
	st.Claims = appendClaims(st.Claims[:0], src)
	setClaimHeaders(r, st, v.header)
	return ok, ""
}

// jwtError turns a verification error into a fixed message: the token's content never goes
// back to the client nor into logs.
func jwtError(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return "token expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "token not valid yet"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "token audience not accepted"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "token lacks a required claim"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "token issuer not accepted"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, errNoKey):
		return "token signature invalid"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "token malformed"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "token algorithm not accepted"
	}
	return "token invalid"
}

// mapClaims gives claims as strings.
type mapClaims map[string]any

func (m mapClaims) Claim(name string) (string, bool) {
	v, ok := m[name]
	if !ok {
		return "", false
	}
	return claimString(v), true
}

// claimString renders a claim value: strings as they are, numbers without exponent, lists
// joined by commas (aud, scopes, groups), objects as JSON.
func claimString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	case nil:
		return ""
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = claimString(e)
		}
		return strings.Join(parts, ",")
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// appendClaims adds every claim to dst in name order (stable for logs and tests).
func appendClaims(dst []httpx.Field, m mapClaims) []httpx.Field {
	start := len(dst)
	for k, v := range m {
		dst = append(dst, httpx.Field{Name: k, Value: claimString(v)})
	}
	slices.SortFunc(dst[start:], func(a, b httpx.Field) int { return strings.Compare(a.Name, b.Name) })
	return dst
}

func setClaimHeaders(r *httpx.Request, st *policy.State, hs []claimHeader) {
	for _, h := range hs {
		if v := st.Claim(h.claim); v != "" {
			r.Header.Add(h.header, v)
		}
	}
}

// ParsePublicKey reads a PEM public key (PKIX "PUBLIC KEY", PKCS#1 "RSA PUBLIC KEY") or
// certificate, for jwt public_key files.
func ParsePublicKey(data []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block: write a PEM public key (-----BEGIN PUBLIC KEY-----) or certificate")
	}
	var key any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		key, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		key, err = x509.ParsePKCS1PublicKey(block.Bytes)
	case "CERTIFICATE":
		var cert *x509.Certificate
		if cert, err = x509.ParseCertificate(block.Bytes); err == nil {
			key = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("PEM block %q is not a public key: write a PUBLIC KEY or CERTIFICATE (never the private key)", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("parse public key: %w", err)
	}
	switch key.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return key, nil
	}
	return nil, fmt.Errorf("public key of type %T: use RSA, ECDSA (P-256, P-384, P-521) or Ed25519", key)
}
