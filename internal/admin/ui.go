package admin

import (
	"embed"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"time"
)

//go:embed web
var webFS embed.FS

// UI serves the dashboard under /ui/: the static page and its sign-in endpoints.
type UI struct {
	sessions *Sessions
	log      *slog.Logger
	static   http.Handler
}

// NewUI returns the dashboard handler. Mount it at "/ui/" without the admin token check (it
// serves the sign-in), and put sessions.Authorize in front of the admin API so that a
// signed-in browser can call it.
func NewUI(sessions *Sessions, log *slog.Logger) *UI {
	if log == nil {
		log = slog.Default()
	}
	sub, err := fs.Sub(webFS, "web")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return &UI{sessions: sessions, log: log, static: http.StripPrefix("/ui/", http.FileServerFS(sub))}
}

func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	// Everything the page loads comes from here: no inline script, no third party.
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	switch r.URL.Path {
	case "/ui/session":
		u.serveSession(w, r)
	case "/ui/login":
		u.serveLogin(w, r)
	case "/ui/logout":
		u.serveLogout(w, r)
	default:
		if !safeMethod(r.Method) {
			writeError(w, 405, "the dashboard's files are read-only")
			return
		}
		h.Set("Cache-Control", "no-cache")
		u.static.ServeHTTP(w, r)
	}
}

// serveSession tells the page whether it must sign in, and gives a signed-in page its CSRF
// token (a cross-site page cannot read this answer).
func (u *UI) serveSession(w http.ResponseWriter, r *http.Request) {
	if r.Method != "GET" {
		writeError(w, 405, "GET /ui/session")
		return
	}
	out := map[string]any{"auth_required": u.sessions.Required(), "signed_in": !u.sessions.Required()}
	if sess := u.sessions.lookup(r); sess != nil {
		out["signed_in"], out["csrf"] = true, sess.csrf
	}
	writeJSON(w, 200, out)
}

func (u *UI) serveLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != "POST" {
		writeError(w, 405, "POST /ui/login with {\"token\": \"<admin.token>\"}")
		return
	}
	// JSON only: a cross-site form cannot send it without a CORS preflight aya never allows.
	if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "application/json" || !sameOrigin(r) {
		writeError(w, 403, "sign in from the dashboard page (JSON from the same origin)")
		return
	}
	var in struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&in); err != nil {
		writeError(w, 400, "body must be {\"token\": \"<admin.token>\"}")
		return
	}
	if !u.sessions.Required() {
		writeJSON(w, 200, map[string]any{"signed_in": true})
		return
	}
	id, csrf, ok := u.sessions.login(in.Token)
	if !ok {
		u.log.Warn("admin: dashboard sign-in refused", "client", r.RemoteAddr)
		time.Sleep(300 * time.Millisecond) // slows guessing; the token's length does the rest
		writeError(w, 401, "wrong admin token")
		return
	}
	u.log.Info("admin: dashboard sign-in", "client", r.RemoteAddr)
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: id, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, MaxAge: int(u.sessions.ttl.Seconds()),
	})
	writeJSON(w, 200, map[string]any{"signed_in": true, "csrf": csrf})
}

func (u *UI) serveLogout(w http.ResponseWriter, r *http.Request) {
	if r.Method != "POST" {
		writeError(w, 405, "POST /ui/logout")
		return
	}
	if sess := u.sessions.lookup(r); sess != nil && !u.sessions.csrfOK(r, sess) {
		writeError(w, 403, "missing or wrong "+CSRFHeader+" header")
		return
	}
	u.sessions.logout(r)
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	writeJSON(w, 200, map[string]any{"signed_in": false})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg}})
}
