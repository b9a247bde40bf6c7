package admin

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// CookieName is the dashboard's session cookie.
const CookieName = "aya_admin"

// CSRFHeader carries a session's CSRF token on requests that change something.
const CSRFHeader = "X-CSRF-Token"

// maxSessions bounds the signed-in browsers kept; the oldest go first.
const maxSessions = 256

// Sessions are signed-in browsers. A session is made only by presenting the admin token
// (Login); it lives in memory, so a restart signs everyone out.
type Sessions struct {
	token string
	ttl   time.Duration
	now   func() time.Time

	mu   sync.Mutex
	byID map[string]*session
}

type session struct {
	csrf    string
	expires time.Time
}

// NewSessions returns the session store for an admin token ("" disables sign-in: the admin
// API is open, as it is on loopback without a token).
func NewSessions(token string, ttl time.Duration) *Sessions {
	if ttl <= 0 {
		ttl = 12 * time.Hour
	}
	return &Sessions{token: token, ttl: ttl, now: time.Now, byID: map[string]*session{}}
}

// Required reports whether the admin API needs a token or a session.
func (s *Sessions) Required() bool { return s.token != "" }

// Authorize lets a signed-in browser through the admin API's own token check: a request with
// a live session cookie (and, for changes, the session's CSRF token from the same origin)
// reaches next carrying the admin token, so next checks one credential whatever the client.
// Any other request passes unchanged and next's check decides. The token never reaches the
// browser.
func (s *Sessions) Authorize(next http.Handler) http.Handler {
	if s.token == "" {
		return next
	}
	bearer := "Bearer " + s.token
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" {
			if sess := s.lookup(r); sess != nil && (safeMethod(r.Method) || s.csrfOK(r, sess)) {
				r = r.Clone(r.Context())
				r.Header.Set("Authorization", bearer)
			}
		}
		next.ServeHTTP(w, r)
	})
}

func safeMethod(m string) bool { return m == "GET" || m == "HEAD" || m == "OPTIONS" }

// lookup returns the live session of the request's cookie, or nil.
func (s *Sessions) lookup(r *http.Request) *session {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sess := s.byID[c.Value]
	if sess == nil {
		return nil
	}
	if s.now().After(sess.expires) {
		delete(s.byID, c.Value)
		return nil
	}
	return sess
}

func (s *Sessions) csrfOK(r *http.Request, sess *session) bool {
	return sameOrigin(r) && subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(sess.csrf)) == 1
}

// sameOrigin accepts requests without an Origin (non-browser clients, same-origin GETs in
// some browsers) and those whose Origin is the host they were sent to.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

// login checks the token and makes a session: its id goes into the cookie, its CSRF token to
// the page.
func (s *Sessions) login(token string) (id, csrf string, ok bool) {
	if s.token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(s.token)) != 1 {
		return "", "", false
	}
	id, csrf = randomToken(), randomToken()
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, v := range s.byID {
		if now.After(v.expires) {
			delete(s.byID, k)
		}
	}
	for len(s.byID) >= maxSessions {
		var oldest string
		var at time.Time
		for k, v := range s.byID {
			if oldest == "" || v.expires.Before(at) {
				oldest, at = k, v.expires
			}
		}
		delete(s.byID, oldest)
	}
	s.byID[id] = &session{csrf: csrf, expires: now.Add(s.ttl)}
	return id, csrf, true
}

func (s *Sessions) logout(r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil {
		s.mu.Lock()
		delete(s.byID, c.Value)
		s.mu.Unlock()
	}
}

func randomToken() string {
	var b [32]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
