package analytics

import (
	"testing"
	"time"
)

func TestRecentFilters(t *testing.T) {
	s := New(Options{Recent: 64})
	for i, tc := range []struct {
		route  string
		status int
		dur    time.Duration
	}{
		{"api", 200, time.Millisecond}, {"api", 503, 200 * time.Millisecond}, {"web", 404, 5 * time.Millisecond},
		{"api", 500, 2 * time.Millisecond}, {"web", 200, 300 * time.Millisecond},
	} {
		r := rec(tc.route, tc.status, tc.dur)
		r.ID = string(rune('a' + i))
		s.Record(r)
	}
	ids := func(f Filter) string {
		reqs, err := s.Recent(f)
		if err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, r := range reqs {
			out += r.ID
		}
		return out
	}
	for _, tc := range []struct {
		f    Filter
		want string
	}{
		{Filter{}, "edcba"},
		{Filter{Limit: 2}, "ed"},
		{Filter{Route: "api"}, "dba"},
		{Filter{Upstream: "up-web"}, "ec"},
		{Filter{Status: "5xx"}, "db"},
		{Filter{Status: "503"}, "b"},
		{Filter{Status: "4XX"}, "c"},
		{Filter{MinDuration: 100 * time.Millisecond}, "eb"},
		{Filter{Route: "api", Status: "5xx", MinDuration: 100 * time.Millisecond}, "b"},
	} {
		if got := ids(tc.f); got != tc.want {
			t.Errorf("%+v: got %q, want %q", tc.f, got, tc.want)
		}
	}
	for _, bad := range []string{"6xx", "abc", "99", "1000"} {
		if _, err := s.Recent(Filter{Status: bad}); err == nil {
			t.Errorf("status %q accepted", bad)
		}
	}
}

func TestRingKeepsNewest(t *testing.T) {
	s := New(Options{Recent: 16}) // 2 per shard
	for i := range 100 {
		r := rec("api", 200, time.Millisecond)
		r.ID = string(rune(i + 200))
		s.Record(r)
	}
	reqs, _ := s.Recent(Filter{})
	if len(reqs) != 16 || reqs[0].Seq != 100 || reqs[15].Seq != 85 {
		t.Fatalf("kept %d, newest seq %d, oldest %d", len(reqs), reqs[0].Seq, reqs[len(reqs)-1].Seq)
	}
	if _, ok := s.Get(string(rune(200))); ok {
		t.Fatal("the first request outlived the ring")
	}
	got, ok := s.Get(string(rune(299)))
	if !ok || got.Path != "/api" || got.ClientIP != "192.0.2.7" || got.UpstreamTime <= 0 || !got.Time.Equal(t0) {
		t.Fatalf("detail %+v", got)
	}
}
