package analytics

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Point is the traffic of one interval. Latencies are seconds; error rates are shares of the
// interval's requests.
type Point struct {
	Time     time.Time `json:"t"` // start of the interval
	Requests uint64    `json:"requests"`
	RPS      float64   `json:"rps"`
	Mean     float64   `json:"mean"`
	P50      float64   `json:"p50"`
	P95      float64   `json:"p95"`
	P99      float64   `json:"p99"`
	Err4xx   float64   `json:"error_rate_4xx"`
	Err5xx   float64   `json:"error_rate_5xx"`
	Limited  uint64    `json:"rate_limited"` // 429 answers
	BytesIn  uint64    `json:"bytes_in"`
	BytesOut uint64    `json:"bytes_out"`
}

func point(t time.Time, a *acc, seconds float64) Point {
	p := Point{Time: t.UTC(), Requests: a.count, Limited: a.c429, BytesIn: a.bytesIn, BytesOut: a.bytesOut}
	if seconds > 0 {
		p.RPS = float64(a.count) / seconds
	}
	if a.count > 0 {
		n := float64(a.count)
		p.Mean = float64(a.durSum) / n / 1e9
		p.P50 = a.hist.quantile(0.50, a.count).Seconds()
		p.P95 = a.hist.quantile(0.95, a.count).Seconds()
		p.P99 = a.hist.quantile(0.99, a.count).Seconds()
		p.Err4xx = float64(a.c4xx) / n
		p.Err5xx = float64(a.c5xx) / n
	}
	return p
}

// Resolutions of a series query.
const (
	Second = time.Second
	Minute = time.Minute
)

// Longest windows each resolution can answer.
const (
	MaxSecondWindow = secSlots * time.Second
	MaxMinuteWindow = minSlots * time.Minute
)

// ErrNotFound means the name has no rollup of its own: never seen, or folded into "other".
var ErrNotFound = errors.New("no such name")

// Query asks for one name's traffic over a window ending with the last closed second.
type Query struct {
	Dim        Dimension
	Name       string // "" for Total; OtherName for the folded names
	Window     time.Duration
	Resolution time.Duration // Second or Minute
}

// Result is a Query's answer: the whole window summed up, and one point per interval, oldest
// first, with empty intervals present so that charts keep a regular time axis.
type Result struct {
	Summary Point   `json:"summary"`
	Points  []Point `json:"points"`
}

// check validates a query and fills its defaults.
func (q *Query) check() error {
	if q.Resolution == 0 {
		q.Resolution = Second
		if q.Window > MaxSecondWindow {
			q.Resolution = Minute
		}
	}
	if q.Window <= 0 {
		q.Window = MaxSecondWindow
		if q.Resolution == Minute {
			q.Window = MaxMinuteWindow
		}
	}
	switch q.Resolution {
	case Second:
		if q.Window > MaxSecondWindow {
			return fmt.Errorf("window %v is longer than the %v kept per second: use resolution=1m", q.Window, MaxSecondWindow)
		}
	case Minute:
		if q.Window > MaxMinuteWindow {
			return fmt.Errorf("window %v is longer than the %v kept: ask for 1h or less", q.Window, MaxMinuteWindow)
		}
	default:
		return fmt.Errorf("resolution %v: use 1s or 1m", q.Resolution)
	}
	return nil
}

// Series answers a Query.
func (s *Store) Series(q Query) (Result, error) {
	if err := q.check(); err != nil {
		return Result{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := s.lookup(q.Dim, q.Name)
	if sr == nil {
		return Result{}, fmt.Errorf("%s %q: %w", q.Dim, q.Name, ErrNotFound)
	}
	return s.result(sr, q, true), nil
}

// Summary sums one name's traffic over the last window (1s to 1h; over 5 minutes it is
// counted in whole minutes). A name without a rollup reads as no traffic.
func (s *Store) Summary(d Dimension, name string, window time.Duration) Point {
	q := Query{Dim: d, Name: name, Window: window}
	if q.check() != nil {
		q = Query{Dim: d, Name: name, Window: MaxMinuteWindow, Resolution: Minute}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sr := s.lookup(d, name)
	if sr == nil {
		return Point{}
	}
	return s.result(sr, q, false).Summary
}

// Named is one name of a dimension with its summary.
type Named struct {
	Name    string `json:"name"`
	Summary Point  `json:"summary"`
}

// List sums every named rollup of a dimension (and "other" when it has traffic) over the
// window, busiest first.
func (s *Store) List(d Dimension, window time.Duration) ([]Named, error) {
	q := Query{Dim: d, Window: window}
	if err := q.check(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dim := s.dims[d]
	out := make([]Named, 0, len(dim.named)+1)
	for name, sr := range dim.named {
		out = append(out, Named{Name: name, Summary: s.result(sr, q, false).Summary})
	}
	if dim.other != nil {
		if p := s.result(dim.other, q, false).Summary; p.Requests > 0 {
			out = append(out, Named{Name: OtherName, Summary: p})
		}
	}
	slices.SortFunc(out, func(a, b Named) int {
		if c := cmpU(b.Summary.Requests, a.Summary.Requests); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out, nil
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Names lists the names of a dimension that have a rollup of their own.
func (s *Store) Names(d Dimension) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.dims[d].named))
	for name := range s.dims[d].named {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

func (s *Store) lookup(d Dimension, name string) *series {
	dim := s.dims[d]
	if d != Total && name == OtherName {
		if _, named := dim.named[name]; !named {
			return dim.otherSeries()
		}
	}
	return dim.named[name]
}

// result reads a series under s.mu. The window ends with the last closed second.
func (s *Store) result(sr *series, q Query, points bool) Result {
	var r Result
	var sum acc
	if s.last == 0 {
		if points {
			r.Points = []Point{}
		}
		return r
	}
	if q.Resolution == Second {
		n := int64(q.Window / time.Second)
		if points {
			r.Points = make([]Point, 0, n)
		}
		for sec := s.last - n + 1; sec <= s.last; sec++ {
			sl := &sr.sec[sec%secSlots]
			a := &sl.acc
			if sl.at != sec {
				a = &acc{}
			}
			sum.merge(a)
			if points {
				r.Points = append(r.Points, point(time.Unix(sec, 0), a, 1))
			}
		}
		r.Summary = point(time.Unix(s.last-n+1, 0), &sum, float64(n))
		return r
	}
	n := int64((q.Window + time.Minute - 1) / time.Minute)
	cur := s.last / 60
	if points {
		r.Points = make([]Point, 0, n)
	}
	var covered float64
	for m := cur - n + 1; m <= cur; m++ {
		sl := &sr.min[m%minSlots]
		a := &sl.acc
		if sl.at != m {
			a = &acc{}
		}
		secs := 60.0
		if m == cur {
			secs = float64(s.last%60 + 1) // the running minute so far
		}
		covered += secs
		sum.merge(a)
		if points {
			r.Points = append(r.Points, point(time.Unix(m*60, 0), a, secs))
		}
	}
	r.Summary = point(time.Unix((cur-n+1)*60, 0), &sum, covered)
	return r
}

// Filter selects recent requests. Zero fields match everything.
type Filter struct {
	Route    string
	Upstream string
	// Status is an exact code ("503") or a class ("5xx").
	Status      string
	MinDuration time.Duration
	Limit       int // newest first; default 100
}

// statusMatch compiles Filter.Status.
func statusMatch(s string) (func(int32) bool, error) {
	if s == "" {
		return func(int32) bool { return true }, nil
	}
	if len(s) == 3 && strings.HasSuffix(strings.ToLower(s), "xx") && s[0] >= '1' && s[0] <= '5' {
		c := int32(s[0]-'0') * 100
		return func(st int32) bool { return st >= c && st < c+100 }, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return nil, fmt.Errorf("status %q: give a code like 503 or a class like 5xx", s)
	}
	return func(st int32) bool { return st == int32(n) }, nil
}

// Recent returns the kept requests that match f, newest first.
func (s *Store) Recent(f Filter) ([]Request, error) {
	match, err := statusMatch(f.Status)
	if err != nil {
		return nil, err
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	route, up := []byte(f.Route), []byte(f.Upstream)
	var out []Request
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for j := range sh.ring {
			e := &sh.ring[j]
			if e.seq == 0 || !match(e.status) || e.dur < f.MinDuration ||
				(f.Route != "" && !bytes.Equal(e.get(fRoute), route)) ||
				(f.Upstream != "" && !bytes.Equal(e.get(fUpstream), up)) {
				continue
			}
			out = append(out, e.request())
		}
		sh.mu.Unlock()
	}
	slices.SortFunc(out, func(a, b Request) int { return cmpU(b.Seq, a.Seq) })
	if len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Get returns the newest kept request with this id.
func (s *Store) Get(id string) (Request, bool) {
	want := []byte(id)
	var best entry
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		for j := range sh.ring {
			if e := &sh.ring[j]; e.seq > best.seq && bytes.Equal(e.get(fID), want) {
				best = *e
			}
		}
		sh.mu.Unlock()
	}
	if best.seq == 0 {
		return Request{}, false
	}
	return best.request(), true
}
