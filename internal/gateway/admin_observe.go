package gateway

import (
	"context"
	_ "embed"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"aya/internal/config"
)

// openAPI is the admin API's OpenAPI 3 document; a test checks every handler against it.
//
//go:embed openapi.json
var openAPI []byte

// adminRoute is a handler another package adds to the admin API (the dashboard, analytics).
type adminRoute struct {
	pattern string
	h       http.Handler
	public  bool
}

// HandleAdmin adds h to the admin API under a net/http ServeMux pattern ("GET /analytics").
// Unless public, it sits behind the admin token like the built-in endpoints. Call it before
// Start.
func (g *Gateway) HandleAdmin(pattern string, h http.Handler, public bool) {
	g.adminMu.Lock()
	defer g.adminMu.Unlock()
	g.adminExt = append(g.adminExt, adminRoute{pattern: pattern, h: h, public: public})
}

// mountObserve adds the observability and config endpoints to the admin mux.
func (g *Gateway) mountObserve(mux *http.ServeMux, cfg config.Admin) {
	mux.HandleFunc("GET /ready", g.handleReady)
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	mux.Handle("GET /metrics", auth(cfg.Token, g.metrics.Handler()))
	mux.Handle("GET /config", auth(cfg.Token, http.HandlerFunc(g.handleConfig)))
	mux.Handle("POST /config/validate", auth(cfg.Token, http.HandlerFunc(g.handleValidate)))
	mux.Handle("PUT /config", auth(cfg.Token, http.HandlerFunc(g.handlePutConfig)))
	g.adminMu.Lock()
	defer g.adminMu.Unlock()
	for _, e := range g.adminExt {
		h := e.h
		if !e.public {
			h = auth(cfg.Token, h)
		}
		mux.Handle(e.pattern, h)
	}
}

// handleReady is GET /ready: 200 while aya takes traffic (every listener bound, not
// draining), else 503, for load balancers and orchestrators to route by. Upstream health does
// not count: aya still answers for a route whose targets are down (with its fallback or a
// 503), and other routes keep working.
func (g *Gateway) handleReady(w http.ResponseWriter, _ *http.Request) {
	s := g.snap.Load()
	ls := g.liveListeners()
	listeners := make([]map[string]any, 0, len(ls))
	for _, l := range ls {
		listeners = append(listeners, map[string]any{"name": l.cfg.Name, "address": l.ln.Addr().String()})
	}
	usable := 0
	for _, p := range s.pools {
		for _, t := range p.pool.Targets() {
			if st := t.State.Status().State; st == "healthy" || st == "half_open" {
				usable++
				break
			}
		}
	}
	body := map[string]any{
		"listeners":        listeners,
		"upstreams":        len(s.pools),
		"upstreams_usable": usable,
		"config":           s.cfg.File,
	}
	switch {
	case g.shutting.Load():
		body["status"] = "draining"
		writeJSON(w, 503, body)
	case !g.Ready():
		body["status"] = "starting"
		writeJSON(w, 503, body)
	default:
		body["status"] = "ready"
		writeJSON(w, 200, body)
	}
}

// auditEntry collects what a handler wants the audit line to say besides who did what.
type auditEntry struct {
	mu    sync.Mutex
	attrs []any
}

type auditKey struct{}

// auditNote adds key=value to the audit line of an admin change.
func auditNote(r *http.Request, key string, value any) {
	if e, ok := r.Context().Value(auditKey{}).(*auditEntry); ok {
		e.mu.Lock()
		e.attrs = append(e.attrs, key, value)
		e.mu.Unlock()
	}
}

// audit logs every admin request that may change something (any method but GET, HEAD and
// OPTIONS), refused ones included: who (address, credential, user agent), what (method,
// path, query), the answer's status and what the handler added.
func (g *Gateway) audit(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			h.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		e := &auditEntry{}
		sw := &statusWriter{ResponseWriter: w, status: 200}
		h.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), auditKey{}, e)))
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		attrs := []any{
			"audit", true,
			"who", map[string]string{"address": host, "credential": credential(r), "user_agent": r.UserAgent()},
			"method", r.Method, "path", r.URL.Path,
		}
		if r.URL.RawQuery != "" {
			attrs = append(attrs, "query", r.URL.RawQuery)
		}
		attrs = append(attrs, "status", sw.status, "duration", time.Since(start))
		e.mu.Lock()
		attrs = append(attrs, e.attrs...)
		e.mu.Unlock()
		g.log.Info("admin change", attrs...)
	})
}

// credential names how an admin request authenticated, never the secret itself.
func credential(r *http.Request) string {
	switch {
	case strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "):
		return "token"
	case hasCookie(r, "aya_admin"):
		return "session"
	}
	return "none"
}

func hasCookie(r *http.Request, name string) bool {
	_, err := r.Cookie(name)
	return err == nil
}

// statusWriter remembers the status an admin handler answered with.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(p)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
