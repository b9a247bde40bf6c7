package analytics

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestHandlerBeforeTheFirstSecond(t *testing.T) {
	w := httptest.NewRecorder()
	New(Options{}).Handler().ServeHTTP(w, httptest.NewRequest("GET", "/analytics?window=10s", nil))
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"requests":0`) || !strings.Contains(w.Body.String(), `"points":[]`) {
		t.Fatalf("a fresh store: %d %s", w.Code, w.Body)
	}
}

func TestHandler(t *testing.T) {
	s := New(Options{Recent: 64})
	for i := range 20 {
		r := rec("api", 200+300*(i%4/3), time.Duration(i+1)*time.Millisecond)
		r.ID = "r" + string(rune('a'+i))
		s.Record(r)
	}
	s.Flush(t0)
	h := s.Handler()
	get := func(url string, want int) map[string]any {
		t.Helper()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", url, nil))
		if w.Code != want {
			t.Fatalf("GET %s: %d, want %d: %s", url, w.Code, want, w.Body)
		}
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
		return out
	}
	out := get("/analytics?window=30s", 200)
	if pts := out["points"].([]any); len(pts) != 30 || out["resolution"] != "1s" {
		t.Fatalf("total: %d points at %v", len(pts), out["resolution"])
	}
	if sum := out["summary"].(map[string]any); sum["requests"].(float64) != 20 || sum["error_rate_5xx"].(float64) != 0.25 {
		t.Fatalf("summary %v", sum)
	}
	out = get("/analytics?dimension=route&name=api&window=1h", 200)
	if out["resolution"] != "1m0s" || len(out["points"].([]any)) != 60 {
		t.Fatalf("an hour is per minute: %v, %d points", out["resolution"], len(out["points"].([]any)))
	}
	out = get("/analytics?dimension=upstream", 200)
	if ser := out["series"].([]any); len(ser) != 1 || ser[0].(map[string]any)["name"] != "up-api" {
		t.Fatalf("upstream list %v", ser)
	}
	out = get("/analytics/requests?status=5xx&limit=3", 200)
	if reqs := out["requests"].([]any); len(reqs) != 3 || reqs[0].(map[string]any)["id"] != "rt" {
		t.Fatalf("recent 5xx %v", reqs)
	}
	if out = get("/analytics/requests/rb", 200); out["path"] != "/api" || out["status"].(float64) != 200 {
		t.Fatalf("detail %v", out)
	}
	if out = get("/analytics/requests?route=none", 200); len(out["requests"].([]any)) != 0 {
		t.Fatal("filter by an unknown route returned requests")
	}
	for _, u := range []string{
		"/analytics?dimension=colour", "/analytics?window=soon", "/analytics?window=10m&resolution=1s",
		"/analytics?resolution=1h", "/analytics/requests?status=9xx", "/analytics/requests?limit=0",
		"/analytics/requests?min_duration=-1s",
	} {
		if e := get(u, 400)["error"].(map[string]any); e["message"] == "" {
			t.Errorf("%s: no message", u)
		}
	}
	get("/analytics?dimension=route&name=nope", 404)
	get("/analytics/requests/nope", 404)
	get("/analytics/other", 404)
}
