package analytics

import (
	"fmt"
	"math"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"aya/internal/observe"
)

// t0 is a minute boundary, so tests know when top-N is reconsidered.
var t0 = time.Unix(1_700_000_040, 0)

func rec(route string, status int, dur time.Duration) *observe.Record {
	return &observe.Record{
		Start: t0, ID: "id-" + route, Listener: "web", Route: route, Upstream: "up-" + route,
		Target: "http://10.0.0.1:80", Method: "GET", Host: "example.com", Path: "/" + route,
		Proto: "HTTP/1.1", Status: status, BytesIn: 10, BytesOut: 100, Duration: dur,
		UpstreamTime: dur / 2, TTFB: dur / 3, ClientIP: netip.MustParseAddr("192.0.2.7"),
		UserAgent: "test",
	}
}

func TestRollupsPerSecondAndMinute(t *testing.T) {
	s := New(Options{})
	for sec := range 3 {
		for i := range 100 {
			status := 200
			switch {
			case i < 5:
				status = 503
			case i < 15:
				status = 404
			case i < 17:
				status = 429
			}
			s.Record(rec("api", status, time.Duration(i+1)*time.Millisecond))
		}
		s.Record(rec("web", 200, time.Millisecond))
		s.Flush(t0.Add(time.Duration(sec) * time.Second))
	}
	r, err := s.Series(Query{Dim: Route, Name: "api", Window: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Points) != 10 {
		t.Fatalf("%d points for 10s at 1s", len(r.Points))
	}
	last := r.Points[9]
	if !last.Time.Equal(t0.Add(2*time.Second)) || last.Requests != 100 || last.RPS != 100 {
		t.Fatalf("last point %+v", last)
	}
	if r.Points[0].Requests != 0 || r.Points[6].Requests != 0 {
		t.Fatal("seconds before the first flush are not empty")
	}
	sum := r.Summary
	if sum.Requests != 300 || math.Abs(sum.RPS-30) > 1e-9 {
		t.Fatalf("summary %+v, want 300 requests at 30/s over 10s", sum)
	}
	if math.Abs(sum.Err5xx-0.05) > 1e-9 || math.Abs(sum.Err4xx-0.12) > 1e-9 || sum.Limited != 6 {
		t.Fatalf("error rates 5xx %v 4xx %v, 429s %d", sum.Err5xx, sum.Err4xx, sum.Limited)
	}
	if sum.P50 < 0.045 || sum.P50 > 0.055 || sum.P99 < 0.09 || sum.P99 > 0.11 {
		t.Fatalf("p50 %v p99 %v, want about 50ms and 99ms", sum.P50, sum.P99)
	}
	if sum.BytesIn != 3000 || sum.BytesOut != 30000 {
		t.Fatalf("bytes %d/%d", sum.BytesIn, sum.BytesOut)
	}

	tot, _ := s.Series(Query{Dim: Total, Window: time.Minute, Resolution: Minute})
	if len(tot.Points) != 1 || tot.Summary.Requests != 303 {
		t.Fatalf("total per minute: %+v", tot)
	}
	if tot.Summary.RPS != 101 {
		t.Fatalf("per-minute rps over the running minute: %v, want 101 (303 over 3s)", tot.Summary.RPS)
	}
	for _, d := range []Dimension{Upstream, Target, Consumer} {
		if got := s.Summary(d, map[Dimension]string{Upstream: "up-api", Target: "http://10.0.0.1:80", Consumer: ""}[d], time.Minute).Requests; got == 0 {
			t.Errorf("%v: no requests", d)
		}
	}
	if got := s.Summary(Target, "http://10.0.0.1:80", time.Minute).Requests; got != 303 {
		t.Errorf("target summary %d, want 303", got)
	}
}

func TestSecondsWrapAndGaps(t *testing.T) {
	s := New(Options{})
	s.Record(rec("api", 200, time.Millisecond))
	s.Flush(t0)
	// 400 seconds later the per-second slot of t0 has been lapped; the minute slot has not.
	s.Record(rec("api", 200, time.Millisecond))
	s.Flush(t0.Add(400 * time.Second))
	r, _ := s.Series(Query{Dim: Route, Name: "api", Window: 5 * time.Minute})
	if r.Summary.Requests != 1 {
		t.Fatalf("last 5 minutes: %d requests, want 1", r.Summary.Requests)
	}
	h, _ := s.Series(Query{Dim: Route, Name: "api", Window: time.Hour, Resolution: Minute})
	if h.Summary.Requests != 2 || len(h.Points) != 60 {
		t.Fatalf("last hour: %d requests in %d points", h.Summary.Requests, len(h.Points))
	}
	// An hour and more later, nothing is left.
	s.Flush(t0.Add(2 * time.Hour))
	if h, _ := s.Series(Query{Dim: Route, Name: "api", Window: time.Hour, Resolution: Minute}); h.Summary.Requests != 0 {
		t.Fatalf("2h later: %d requests in the last hour", h.Summary.Requests)
	}
}

func TestQueryLimits(t *testing.T) {
	s := New(Options{})
	s.Record(rec("api", 200, time.Millisecond))
	s.Flush(t0)
	for _, q := range []Query{
		{Dim: Total, Window: 10 * time.Minute, Resolution: Second},
		{Dim: Total, Window: 2 * time.Hour},
		{Dim: Total, Window: time.Minute, Resolution: time.Hour},
	} {
		if _, err := s.Series(q); err == nil {
			t.Errorf("%+v: no error", q)
		}
	}
	if _, err := s.Series(Query{Dim: Route, Name: "nope"}); err == nil {
		t.Error("unknown name: no error")
	}
	r, err := s.Series(Query{Dim: Total, Window: 20 * time.Minute})
	if err != nil || len(r.Points) != 20 {
		t.Fatalf("20m defaults to per-minute: %v, %d points", err, len(r.Points))
	}
}

func TestRecordCopiesStrings(t *testing.T) {
	s := New(Options{Recent: 16})
	buf := []byte("route-a")
	r := rec("x", 200, time.Millisecond)
	r.Route = string(buf) // as if it pointed into a connection buffer…
	r.ID = "req-1"
	s.Record(r)
	copy(buf, "XXXXXXX") // …that is reused for the next request
	s.Flush(t0)
	got, ok := s.Get("req-1")
	if !ok || got.Route != "route-a" {
		t.Fatalf("kept route %q (found %v)", got.Route, ok)
	}
	if names := s.Names(Route); len(names) != 1 || names[0] != "route-a" {
		t.Fatalf("rollup names %v", names)
	}
}

func TestLongFieldsAreCut(t *testing.T) {
	s := New(Options{Recent: 8})
	r := rec("api", 200, time.Millisecond)
	r.ID = "long"
	r.Path = "/" + strings.Repeat("a", 1000)
	s.Record(r)
	got, _ := s.Get("long")
	if len(got.Path) != fieldMax[fPath] || !got.Truncated {
		t.Fatalf("path of %d bytes, truncated=%v", len(got.Path), got.Truncated)
	}
}

// TestCardinalityBounded sends 10,000 distinct consumers: the store keeps top-N rollups and
// "other", the totals still add up, and a busy newcomer takes a place at the next minute.
func TestCardinalityBounded(t *testing.T) {
	s := New(Options{TopN: 4, Recent: 64})
	for sec := range 60 {
		for i := range 200 {
			r := rec("api", 200, time.Millisecond)
			r.Consumer = fmt.Sprintf("c%d", (sec*200+i)%10000)
			s.Record(r)
		}
		// "whale" appears after the top-4 slots are taken and is busier than anyone.
		if sec >= 10 {
			for range 50 {
				r := rec("api", 200, time.Millisecond)
				r.Consumer = "whale"
				s.Record(r)
			}
		}
		s.Flush(t0.Add(time.Duration(sec+1) * time.Second))
	}
	if n := len(s.Names(Consumer)); n != 4 {
		t.Fatalf("%d named consumers, want 4", n)
	}
	for i := range s.shards {
		if n := len(s.shards[i].names[Consumer]); n > s.shards[i].limit {
			t.Fatalf("shard %d remembers %d consumers, limit %d", i, n, s.shards[i].limit)
		}
	}
	if n := len(s.dims[Consumer].cand); n > 16 {
		t.Fatalf("%d candidates kept, limit 16", n)
	}
	list, _ := s.List(Consumer, 5*time.Minute)
	var sum uint64
	whale := false
	for _, n := range list {
		sum += n.Summary.Requests
		whale = whale || n.Name == "whale"
	}
	total := s.Summary(Total, "", 5*time.Minute).Requests
	if sum != total || total != 60*200+50*50 {
		t.Fatalf("consumers add up to %d, total %d", sum, total)
	}
	if !whale {
		t.Fatalf("the busiest consumer did not get a rollup at the minute: %v", s.Names(Consumer))
	}
	if other := s.Summary(Consumer, OtherName, 5*time.Minute).Requests; other == 0 {
		t.Fatal("nothing in other")
	}
}

func TestConcurrentRecordAndQuery(t *testing.T) {
	s := New(Options{Recent: 256})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2000 {
				r := rec(fmt.Sprintf("r%d", g), 200+i%2*300, time.Millisecond)
				r.ID = fmt.Sprintf("g%d-%d", g, i)
				s.Record(r)
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 50 {
			s.Flush(t0.Add(time.Duration(i) * time.Second))
			s.Recent(Filter{Status: "5xx", Limit: 10})
			s.List(Route, time.Minute)
		}
	}()
	wg.Wait()
	s.Flush(t0.Add(50 * time.Second))
	if got := s.Summary(Total, "", 5*time.Minute).Requests; got != 8000 {
		t.Fatalf("%d requests counted, want 8000", got)
	}
	reqs, _ := s.Recent(Filter{Limit: 1000})
	if len(reqs) != 256 {
		t.Fatalf("%d recent requests kept, want 256", len(reqs))
	}
	for _, r := range reqs {
		if got, ok := s.Get(r.ID); !ok || got.Seq != r.Seq || got.Route[0] != 'r' {
			t.Fatalf("request %q: %+v", r.ID, got)
		}
	}
}
