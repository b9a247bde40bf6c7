package auth

import (
	"net/url"
	"strings"

	"aya/internal/httpx"
)

// apiKey returns the key from the header, else from the query (inQuery); "" when there is
// none.
func apiKey(r *httpx.Request, k *APIKey) (key string, inQuery bool) {
	if v := r.Header.Get(k.Header); v != "" {
		return v, false
	}
	if k.Query == "" {
		return "", false
	}
	v := r.QueryValue(k.Query)
	if strings.IndexByte(v, '%') >= 0 || strings.IndexByte(v, '+') >= 0 {
		// rare: keys are usually URL-safe, and only these pay for the decoding
		if d, err := url.QueryUnescape(v); err == nil {
			return d, true
		}
	}
	return v, true
}

// hideKey removes the key from where it was found.
func hideKey(r *httpx.Request, k *APIKey, inQuery bool) {
	if !inQuery {
		r.Header.Del(k.Header)
		return
	}
	var b strings.Builder
	for q := r.Query; q != ""; {
		part, rest, _ := strings.Cut(q, "&")
		q = rest
		if name, _, _ := strings.Cut(part, "="); name == k.Query {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(part)
	}
	r.Query = b.String()
}

type scheme uint8

const (
	schemeNone scheme = iota
	schemeBasic
	schemeBearer
	schemeOther
)

// authorization splits the Authorization header into its scheme and credentials.
func authorization(r *httpx.Request) (scheme, string) {
	v := r.Header.Get("Authorization")
	if v == "" {
		return schemeNone, ""
	}
	name, cred, _ := strings.Cut(v, " ")
	cred = strings.TrimLeft(cred, " ")
	switch {
	case httpx.EqualFold(name, "Basic"):
		return schemeBasic, cred
	case httpx.EqualFold(name, "Bearer"):
		return schemeBearer, cred
	}
	return schemeOther, cred
}

// looksLikeJWT reports whether a bearer token has a JWS compact form's two dots.
func looksLikeJWT(tok string) bool {
	return strings.Count(tok, ".") == 2
}

// challenges are the WWW-Authenticate values of the configured methods.
func challenges(o Options) []string {
	realm := "aya"
	if o.Basic != nil && o.Basic.Realm != "" {
		realm = o.Basic.Realm
	}
	var out []string
	if o.APIKey != nil {
		out = append(out, `APIKey realm="`+realm+`", header="`+o.APIKey.Header+`"`)
	}
	if o.Basic != nil {
		out = append(out, `Basic realm="`+realm+`", charset="UTF-8"`)
	}
	if o.JWT != nil || o.OAuth2 != nil {
		out = append(out, `Bearer realm="`+realm+`"`)
	}
	return out
}

// withTokenError adds RFC 6750's error="invalid_token" to the Bearer challenge. why is one of
// the policy's own fixed messages, never client input.
func withTokenError(cs []string, why string) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		if strings.HasPrefix(c, "Bearer ") {
			c += `, error="invalid_token", error_description="` + strings.ReplaceAll(why, `"`, "'") + `"`
		}
		out[i] = c
	}
	return out
}

// Challenge is the WWW-Authenticate values an auth policy with these options sends, for
// policies after it (acl) that refuse an anonymous caller.
func Challenge(o Options) []string { return challenges(o) }

func headerNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, h := range m {
		out = append(out, h)
	}
	return out
}
