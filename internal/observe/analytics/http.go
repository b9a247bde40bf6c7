package analytics

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"
)

// Handler serves the analytics part of the admin API. Mount it at both "/analytics" and
// "/analytics/":
//
//	GET /analytics?dimension=route&name=api&window=5m&resolution=1s  one rollup, with points
//	GET /analytics?dimension=route&window=1h                          every name, summed
//	GET /analytics/requests?route=api&status=5xx&min_duration=100ms&limit=50
//	GET /analytics/requests/{id}                                      one request
func (s *Store) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /analytics", s.serveSeries)
	mux.HandleFunc("GET /analytics/requests", s.serveRecent)
	mux.HandleFunc("GET /analytics/requests/{id}", s.serveRequest)
	mux.HandleFunc("/analytics/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, 404, "no analytics endpoint "+r.URL.Path+": use /analytics, /analytics/requests or /analytics/requests/{id}")
	})
	return mux
}

func (s *Store) serveSeries(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	dim := Total
	if d := v.Get("dimension"); d != "" {
		var ok bool
		if dim, ok = ParseDimension(d); !ok {
			writeError(w, 400, "dimension "+strconv.Quote(d)+": use total, route, upstream, target or consumer")
			return
		}
	}
	window, err := durationParam(v.Get("window"), "window")
	if err != nil {
		writeError(w, 400, err.Error())
		return
	}
	res, err := durationParam(v.Get("resolution"), "resolution")
	if err != nil {
		writeError(w, 400, err.Error())
		return
	}
	_, hasName := v["name"]
	if dim != Total && !hasName {
		list, err := s.List(dim, window)
		if err != nil {
			writeError(w, 400, err.Error())
			return
		}
		if window == 0 {
			window = MaxSecondWindow
		}
		writeJSON(w, 200, map[string]any{"dimension": dim.String(), "window": window.String(), "series": list})
		return
	}
	q := Query{Dim: dim, Name: v.Get("name"), Window: window, Resolution: res}
	if dim == Total {
		q.Name = ""
	}
	out, err := s.Series(q)
	switch {
	case errors.Is(err, ErrNotFound):
		writeError(w, 404, err.Error()+": GET /analytics?dimension="+dim.String()+" lists the names with a rollup (the rest are in \"other\")")
		return
	case err != nil:
		writeError(w, 400, err.Error())
		return
	}
	q.check()
	writeJSON(w, 200, map[string]any{
		"dimension": dim.String(), "name": q.Name, "window": q.Window.String(),
		"resolution": q.Resolution.String(), "summary": out.Summary, "points": out.Points,
	})
}

func (s *Store) serveRecent(w http.ResponseWriter, r *http.Request) {
	v := r.URL.Query()
	f := Filter{Route: v.Get("route"), Upstream: v.Get("upstream"), Status: v.Get("status")}
	var err error
	if f.MinDuration, err = durationParam(v.Get("min_duration"), "min_duration"); err != nil {
		writeError(w, 400, err.Error())
		return
	}
	if l := v.Get("limit"); l != "" {
		if f.Limit, err = strconv.Atoi(l); err != nil || f.Limit < 1 {
			writeError(w, 400, "limit "+strconv.Quote(l)+": give a positive number of requests")
			return
		}
	}
	reqs, err := s.Recent(f)
	if err != nil {
		writeError(w, 400, err.Error())
		return
	}
	if reqs == nil {
		reqs = []Request{}
	}
	writeJSON(w, 200, map[string]any{"requests": reqs})
}

func (s *Store) serveRequest(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	req, ok := s.Get(id)
	if !ok {
		writeError(w, 404, "no recent request with id "+strconv.Quote(id)+": the store keeps the last few thousand; GET /analytics/requests lists them")
		return
	}
	writeJSON(w, 200, req)
}

func durationParam(s, name string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New(name + " " + strconv.Quote(s) + ": give a duration like 500ms, 1s, 5m or 1h")
	}
	return d, nil
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
