package proxy

import (
	"context"
	"strings"
	"testing"
	"time"

	"aya/internal/httpx"
)

// passed counts the requests a fault handler let through, and whether they kept the trigger.
type passed struct {
	n         int
	triggered int
}

func (p *passed) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	p.n++
	if r.Header.Has("X-Aya-Fault") {
		p.triggered++
	}
	w.WriteHeader(200)
}

func serveFault(h httpx.Handler, header string, ctx context.Context) (*recorder, time.Duration) {
	r := &httpx.Request{Method: "GET", Path: "/", ID: "id1"}
	if header != "" {
		r.Header = httpx.Header{{Name: "X-Aya-Fault", Value: header}}
	}
	r.SetContext(ctx)
	w := &recorder{}
	start := time.Now()
	h.ServeHTTPX(w, r)
	return w, time.Since(start)
}

func TestFaultByHeader(t *testing.T) {
	f := Fault{Route: "r", Delay: 30 * time.Millisecond, AbortStatus: 502, Header: "X-Aya-Fault"}
	tests := []struct {
		header      string
		status      int
		delayed     bool
		passedCount int
	}{
		{"", 200, false, 1},
		{"delay", 200, true, 1},
		{"abort", 502, false, 0},
		{"Delay, abort", 502, true, 0},
		{"yes", 502, true, 0},
	}
	for _, tc := range tests {
		t.Run(tc.header, func(t *testing.T) {
			next := &passed{}
			w, d := serveFault(NewFault(f, next), tc.header, context.Background())
			if w.status != tc.status || next.n != tc.passedCount || next.triggered != 0 {
				t.Fatalf("status %d, passed %d (%d with the trigger header)", w.status, next.n, next.triggered)
			}
			if delayed := d >= f.Delay; delayed != tc.delayed {
				t.Fatalf("took %v, delayed %v", d, delayed)
			}
			if tc.status == 502 && !strings.Contains(string(w.body), `"message":"fault injected by route r"`) {
				t.Fatalf("body %s", w.body)
			}
		})
	}
}

func TestFaultByPercent(t *testing.T) {
	f := Fault{Route: "r", Delay: time.Nanosecond, DelayPercent: 100, AbortStatus: 503, AbortPercent: 10, Seed: 42}
	run := func() []int {
		next := &passed{}
		h := NewFault(f, next)
		var aborted []int
		for i := range 10000 {
			if w, _ := serveFault(h, "", context.Background()); w.status == 503 {
				aborted = append(aborted, i)
				if w.h.Get("Retry-After") != "1" {
					t.Fatalf("abort without Retry-After: %v", w.h)
				}
			}
		}
		if next.n+len(aborted) != 10000 {
			t.Fatalf("%d passed + %d aborted", next.n, len(aborted))
		}
		return aborted
	}
	a, b := run(), run()
	if len(a) < 900 || len(a) > 1100 {
		t.Fatalf("%d of 10000 aborted at 10%%", len(a))
	}
	if len(a) != len(b) || a[0] != b[0] || a[len(a)-1] != b[len(b)-1] {
		t.Fatal("the same seed gave another sequence")
	}
	f.Seed = 43
	if c := run(); len(c) == len(a) && c[0] == a[0] {
		t.Fatal("another seed gave the same sequence")
	}
}

func TestFaultDelayEndsWithClient(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	next := &passed{}
	w, d := serveFault(NewFault(Fault{Route: "r", Delay: time.Minute, Header: "X-Aya-Fault"}, next), "delay", ctx)
	if next.n != 0 || w.status != 0 || d > time.Second {
		t.Fatalf("passed %d, status %d after %v", next.n, w.status, d)
	}
}

func BenchmarkFaultPass(b *testing.B) {
	next := &passed{}
	h := NewFault(Fault{Route: "r", Delay: time.Second, DelayPercent: 0.0001, AbortStatus: 503, AbortPercent: 0.0001, Header: "X-Aya-Fault"}, next)
	r := &httpx.Request{Method: "GET", Path: "/", Header: httpx.Header{{Name: "Host", Value: "x"}}}
	w := &recorder{}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTPX(w, r)
	}
}
