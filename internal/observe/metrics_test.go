package observe

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestCodeClassAndMethod(t *testing.T) {
	for status, want := range map[int]string{0: "other", 99: "other", 100: "1xx", 200: "2xx", 204: "2xx", 301: "3xx",
		404: "4xx", 499: "4xx", 502: "5xx", 599: "5xx", 600: "other", 999: "other"} {
		if got := CodeClass(status); got != want {
			t.Errorf("CodeClass(%d) = %q, want %q", status, got, want)
		}
	}
	for m, want := range map[string]string{"GET": "GET", "PATCH": "PATCH", "TRACE": "TRACE", "get": "other", "BREW": "other", "": "other"} {
		if got := methods[methodIndex(m)]; got != want {
			t.Errorf("method %q → %q, want %q", m, got, want)
		}
	}
}

func TestRouteMetrics(t *testing.T) {
	m := NewMetrics()
	rm := m.Route("api", "backend")
	if m.Route("api", "backend") != rm {
		t.Fatal("Route must return the same handle for the same names")
	}
	rm.Observe(&Record{Method: "GET", Status: 200, Duration: 3 * time.Millisecond, BytesIn: 10, BytesOut: 100})
	rm.Observe(&Record{Method: "GET", Status: 200, Duration: time.Millisecond, BytesOut: 50})
	rm.Observe(&Record{Method: "BREW", Status: 503, Duration: time.Second})
	m.Route("", "").Observe(&Record{Method: "GET", Status: 404})

	if v := testutil.ToFloat64(m.requests.WithLabelValues("api", "backend", "GET", "2xx")); v != 2 {
		t.Errorf("GET 2xx = %v", v)
	}
	if v := testutil.ToFloat64(m.requests.WithLabelValues("api", "backend", "other", "5xx")); v != 1 {
		t.Errorf("other 5xx = %v", v)
	}
	if v := testutil.ToFloat64(m.requests.WithLabelValues("", "", "GET", "4xx")); v != 1 {
		t.Errorf("unmatched = %v", v)
	}
	if v := testutil.ToFloat64(m.bytesIn.WithLabelValues("api")); v != 10 {
		t.Errorf("bytes in = %v", v)
	}
	if v := testutil.ToFloat64(m.bytesOut.WithLabelValues("api")); v != 150 {
		t.Errorf("bytes out = %v", v)
	}
	// Only the combinations seen exist: no flood of zero series.
	if n := testutil.CollectAndCount(m.requests); n != 3 {
		t.Errorf("%d request series, want 3", n)
	}
	if n := histCount(t, m, "aya_request_duration_seconds", "api"); n != 3 {
		t.Errorf("latency histogram of api has %d samples, want 3", n)
	}
}

// histCount gathers m and returns the sample count of the histogram series whose first label
// has value first.
func histCount(t *testing.T, m *Metrics, name, first string) uint64 {
	t.Helper()
	fams, err := m.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, mt := range f.GetMetric() {
			if mt.GetLabel()[0].GetValue() == first {
				return mt.GetHistogram().GetSampleCount()
			}
		}
	}
	return 0
}

func TestTargetMetricsAndKeep(t *testing.T) {
	m := NewMetrics()
	tm := m.Target("backend", "http://10.0.0.1:80")
	tm.Try(0, 502, 2*time.Millisecond)
	tm.Try(1, 200, time.Millisecond)
	m.Target("backend", "http://10.0.0.2:80").Try(0, 200, time.Millisecond)
	m.Route("api", "backend").Observe(&Record{Method: "GET", Status: 200})
	m.Route("old", "backend").Observe(&Record{Method: "GET", Status: 200, BytesOut: 1})

	if v := testutil.ToFloat64(m.tries.WithLabelValues("backend", "http://10.0.0.1:80", "5xx")); v != 1 {
		t.Errorf("5xx tries = %v", v)
	}
	if v := testutil.ToFloat64(m.retries.WithLabelValues("backend")); v != 1 {
		t.Errorf("retries = %v", v)
	}

	m.Keep([][2]string{{"api", "backend"}}, [][2]string{{"backend", "http://10.0.0.2:80"}})
	if n := testutil.CollectAndCount(m.requests); n != 1 {
		t.Errorf("%d request series after Keep, want 1", n)
	}
	if n := testutil.CollectAndCount(m.tries); n != 1 {
		t.Errorf("%d try series after Keep, want 1", n)
	}
	if n := testutil.CollectAndCount(m.bytesOut); n != 1 {
		t.Errorf("%d bytes series after Keep, want 1 (api's; old is gone)", n)
	}
	if n := testutil.CollectAndCount(m.retries); n != 1 {
		t.Errorf("retries of a live upstream must stay, got %d series", n)
	}
	if m.Route("old", "backend") == nil {
		t.Fatal("a dropped route can come back")
	}
}

// BenchmarkRecordRequest is what metrics add to one proxied request: the in-flight gauge, the
// route's counter, histogram and byte counters, and one try to a target.
func BenchmarkRecordRequest(b *testing.B) {
	m := NewMetrics()
	rm := m.Route("api", "backend")
	tm := m.Target("backend", "http://10.0.0.1:80")
	r := &Record{Method: "GET", Status: 200, Duration: 1500 * time.Microsecond, BytesIn: 0, BytesOut: 512}
	b.ReportAllocs()
	for b.Loop() {
		m.Begin()
		tm.Try(0, 200, time.Millisecond)
		rm.Observe(r)
		m.End()
	}
}

func BenchmarkRecordRequestParallel(b *testing.B) {
	m := NewMetrics()
	rm := m.Route("api", "backend")
	tm := m.Target("backend", "http://10.0.0.1:80")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		r := &Record{Method: "GET", Status: 200, Duration: 1500 * time.Microsecond, BytesOut: 512}
		for pb.Next() {
			m.Begin()
			tm.Try(0, 200, time.Millisecond)
			rm.Observe(r)
			m.End()
		}
	})
}
