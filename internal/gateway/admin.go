package gateway

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"aya/internal/config"
	"aya/internal/upstream"
)

// adminServer is the operator's API. It runs on net/http: it is not a hot path, and the
// observability work plugs promhttp and friends into the same mux.
type adminServer struct {
	srv *http.Server
	ln  net.Listener
}

func startAdmin(g *Gateway, cfg config.Admin) (*adminServer, error) {
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		if !g.Ready() {
			writeJSON(w, 503, map[string]any{"status": "starting"})
			return
		}
		writeJSON(w, 200, map[string]any{"status": "ok"})
	})
	mux.Handle("GET /routes", auth(cfg.Token, http.HandlerFunc(g.handleRoutes)))
	mux.Handle("GET /upstreams", auth(cfg.Token, http.HandlerFunc(g.handleUpstreams)))
	mux.Handle("GET /config/status", auth(cfg.Token, http.HandlerFunc(g.handleConfigStatus)))
	mux.Handle("POST /reload", auth(cfg.Token, http.HandlerFunc(g.handleReload)))
	mux.Handle("POST /upstreams/{name}/drain", auth(cfg.Token, g.handleDrain(true)))
	mux.Handle("POST /upstreams/{name}/undrain", auth(cfg.Token, g.handleDrain(false)))
	mux.Handle("POST /upstreams/{name}/targets", auth(cfg.Token, http.HandlerFunc(g.handleAddTarget)))
	mux.Handle("DELETE /upstreams/{name}/targets", auth(cfg.Token, http.HandlerFunc(g.handleRemoveTarget)))
	mux.Handle("GET /tps", auth(cfg.Token, http.HandlerFunc(g.handleTPS)))
	// Profiles on demand: the cheapest way to see where a production aya spends its CPU.
	mux.Handle("GET /debug/pprof/", auth(cfg.Token, http.HandlerFunc(pprof.Index)))
	mux.Handle("GET /debug/pprof/profile", auth(cfg.Token, http.HandlerFunc(pprof.Profile)))
	mux.Handle("GET /debug/pprof/trace", auth(cfg.Token, http.HandlerFunc(pprof.Trace)))
	g.mountObserve(mux, cfg)
	g.mountAuthAdmin(mux, cfg)
	g.mountCacheAdmin(mux, cfg)
	g.mountLLMAdmin(mux, cfg)
	a := &adminServer{srv: &http.Server{Handler: g.audit(g.insight.authorize(mux)), ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	go a.srv.Serve(ln)
	return a, nil
}

func (a *adminServer) addr() string { return a.ln.Addr().String() }

func (a *adminServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	a.srv.Shutdown(ctx)
}

// auth requires "Authorization: Bearer <token>" when a token is configured.
func auth(token string, h http.Handler) http.Handler {
	if token == "" {
		return h
	}
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="aya-admin"`)
			writeJSON(w, 401, map[string]any{"error": map[string]any{"code": 401, "message": "admin API needs Authorization: Bearer <admin.token>"}})
			return
		}
		h.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func (g *Gateway) handleRoutes(w http.ResponseWriter, _ *http.Request) {
	s := g.snap.Load()
	out := make([]map[string]any, 0, len(s.cfg.Routes))
	for _, r := range s.cfg.Routes {
		out = append(out, map[string]any{"name": r.Name, "listeners": r.Listeners, "match": r.Match, "upstream": r.Upstream})
	}
	writeJSON(w, 200, map[string]any{"routes": out})
}

// targetView is one target as GET /upstreams shows it.
type targetView struct {
	URL      string `json:"url"`
	Weight   int    `json:"weight"`
	Protocol string `json:"protocol"`
	upstream.Status
	InFlight    int64   `json:"in_flight"`
	EWMALatency float64 `json:"ewma_latency"` // seconds
}

func (g *Gateway) handleUpstreams(w http.ResponseWriter, _ *http.Request) {
	s := g.snap.Load()
	out := make([]map[string]any, 0, len(s.cfg.Upstreams))
	for _, u := range s.cfg.Upstreams {
		p := s.pools[u.Name].pool
		targets := p.Targets()
		ts := make([]targetView, 0, len(targets))
		for _, t := range targets {
			ts = append(ts, targetView{
				URL: t.Name, Weight: t.Balance.Weight, Protocol: t.Protocol, Status: t.State.Status(),
				InFlight: t.Balance.InFlight(), EWMALatency: t.Balance.Latency().Seconds(),
			})
		}
		up := map[string]any{"name": u.Name, "balance": u.Balance, "panic": p.Panicking(), "targets": ts}
		if limit, inflight, ok := p.ShedLimit(); ok {
			up["load_shedding"] = map[string]any{"limit": limit, "in_flight": inflight}
		}
		out = append(out, up)
	}
	writeJSON(w, 200, map[string]any{"upstreams": out})
}

// handleDrain marks ?target=URL of an upstream draining (or not). The mark lives with the
// target's state, so it survives reloads; GET /upstreams shows in_flight falling to 0.
func (g *Gateway) handleDrain(on bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, target := r.PathValue("name"), r.URL.Query().Get("target")
		p, ok := g.snap.Load().pools[name]
		switch {
		case !ok:
			writeJSON(w, 404, map[string]any{"error": map[string]any{"code": 404, "message": "no upstream named " + name + "; GET /upstreams lists them"}})
		case target == "" || !p.pool.SetDraining(target, on):
			writeJSON(w, 404, map[string]any{"error": map[string]any{"code": 404, "message": "upstream " + name + " has no target " + target + "; pass ?target= with a url from GET /upstreams"}})
		default:
			g.shareDrain(r.Context(), name, target, on)
			state := "draining"
			if !on {
				state = "active"
			}
			writeJSON(w, 200, map[string]any{"upstream": name, "target": target, "status": state})
		}
	})
}

// handleAddTarget adds or updates a target: POST /upstreams/{name}/targets with
// {"url": "http://10.0.0.5:9000", "weight": 1, "priority": 0, "backup": false, "zone": ""}.
// The change is atomic and keeps the connections of the other targets; it lasts across
// reloads until DELETE removes it, and is written to the config file only with ?persist=true.
func (g *Gateway) handleAddTarget(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	persist, err := wantsPersist(r)
	if err != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"code": 400, "message": err.Error()}})
		return
	}
	var in struct {
		URL      string `json:"url"`
		Weight   int    `json:"weight"`
		Priority int    `json:"priority"`
		Backup   bool   `json:"backup"`
		Zone     string `json:"zone"`
	}
	in.Weight = 1
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&in); err != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"code": 400, "message": `body must be JSON like {"url": "http://10.0.0.5:9000", "weight": 1}: ` + err.Error()}})
		return
	}
	t, err := config.NewTarget(in.URL, in.Weight)
	if err == nil && (in.Priority < 0 || in.Priority > 100) {
		err = fmt.Errorf("priority must be from 0 to 100, got %d", in.Priority)
	}
	if err != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"code": 400, "message": "target: " + err.Error()}})
		return
	}
	t.Priority, t.Backup, t.Zone = in.Priority, in.Backup, in.Zone
	if err := g.reg.AddTarget(name, t); err != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"code": 400, "message": err.Error()}})
		return
	}
	g.shareTarget(r.Context(), name, t)
	g.answerTargetChange(w, name, t.URL, "added", persist)
}

// answerTargetChange answers an applied target change, writing it to the config file first
// when asked; a failed write is a 500 that says the change is live but not saved.
func (g *Gateway) answerTargetChange(w http.ResponseWriter, name, target, status string, persist bool) {
	if err := g.saveTargetChanges(name); err != nil {
		writeJSON(w, 500, map[string]any{"error": map[string]any{"code": 500,
			"message": "the target change is live but was not saved to the data_dir store, so a restart will lose it: " + err.Error()}})
		return
	}
	if persist {
		if err := g.persistTargets(name); err != nil {
			writeJSON(w, 500, map[string]any{"error": map[string]any{"code": 500,
				"message": "the target was " + status + " but not saved to the config file: " + err.Error()}})
			return
		}
	}
	writeJSON(w, 200, map[string]any{"upstream": name, "target": target, "status": status, "persisted": persist})
}

// handleRemoveTarget removes a target: DELETE /upstreams/{name}/targets?target=URL (and
// &persist=true to write it to the config file). Requests in flight to it finish; drain it
// first to let long ones end.
func (g *Gateway) handleRemoveTarget(w http.ResponseWriter, r *http.Request) {
	name, target := r.PathValue("name"), r.URL.Query().Get("target")
	persist, err := wantsPersist(r)
	if err != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"code": 400, "message": err.Error()}})
		return
	}
	found, err := g.reg.RemoveTarget(name, target)
	switch {
	case err != nil && !found:
		writeJSON(w, 404, map[string]any{"error": map[string]any{"code": 404, "message": err.Error()}})
	case !found:
		writeJSON(w, 404, map[string]any{"error": map[string]any{"code": 404, "message": "upstream " + name + " has no target " + target + "; pass ?target= with a url from GET /upstreams"}})
	default:
		g.shareTargetRemoved(r.Context(), name, target)
		g.answerTargetChange(w, name, target, "removed", persist)
	}
}

func (g *Gateway) handleConfigStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, 200, g.configStatus())
}

func (g *Gateway) handleReload(w http.ResponseWriter, _ *http.Request) {
	path := g.snap.Load().cfg.File
	cfg, err := config.Load(path)
	if err != nil {
		g.ReloadFailed(err)
		writeJSON(w, 400, map[string]any{"error": map[string]any{"code": 400, "message": err.Error()}})
		return
	}
	if err := g.Reload(cfg); err != nil {
		writeJSON(w, 400, map[string]any{"error": map[string]any{"code": 400, "message": err.Error()}})
		return
	}
	writeJSON(w, 200, map[string]any{"status": "reloaded"})
}
