package gateway

import (
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCacheAdmin(t *testing.T) {
	g := &Gateway{pol: newPolicyState(slog.New(slog.DiscardHandler))}
	defer g.pol.close()

	rec := httptest.NewRecorder()
	g.handleCacheStats(rec, httptest.NewRequest("GET", "/cache", nil))
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), `"entries": 0`) {
		t.Fatalf("stats without a store: %d %s", rec.Code, rec.Body)
	}

	s, err := g.pol.cache.storeOf(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if again, _ := g.pol.cache.storeOf(2 << 20); again != s {
		t.Fatal("a reload made a new store instead of resizing the old one")
	}
	if s.Stats().MaxBytes != 2<<20 {
		t.Fatalf("max bytes %d after resize", s.Stats().MaxBytes)
	}

	tests := []struct {
		body   string
		status int
		want   string
	}{
		{`{"prefix": "/api/"}`, 200, `"purged": 0`},
		{`{"all": true}`, 200, `"purged": 0`},
		{`{"tag": "a", "key": "b"}`, 400, `name exactly one of`},
		{`{}`, 400, `name exactly one of`},
		{`{"prefx": "/"}`, 400, `unknown field`},
		{`not json`, 400, `must be JSON`},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		g.handleCachePurge(rec, httptest.NewRequest("POST", "/cache/purge", strings.NewReader(tt.body)))
		if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.want) {
			t.Errorf("%s: got %d %s, want %d with %q", tt.body, rec.Code, rec.Body, tt.status, tt.want)
		}
	}
}
