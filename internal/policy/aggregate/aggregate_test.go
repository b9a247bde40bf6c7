package aggregate

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"aya/internal/httpx"
	"aya/internal/policy"
	"aya/internal/policy/transform"
)

type recorder struct {
	h      httpx.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() *httpx.Header { return &w.h }
func (w *recorder) WriteHeader(s int) {
	if w.status == 0 {
		w.status = s
	}
}
func (w *recorder) Write(p []byte) (int, error) { return w.body.Write(p) }
func (w *recorder) Flush() error                { return nil }

func answer(status int, body string) httpx.HandlerFunc {
	return func(w httpx.ResponseWriter, r *httpx.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write([]byte(body))
	}
}

// slow answers only when the call's context ends (as the proxy does on a timeout).
func slow(w httpx.ResponseWriter, r *httpx.Request) {
	<-r.Context().Done()
	w.WriteHeader(504)
}

func call(name string, h httpx.Handler, path string, required bool) Call {
	return Call{Name: name, Handler: h, Method: "GET", Path: transform.MustCompile(path), Timeout: 2 * time.Second, Required: required}
}

func serve(t *testing.T, o Options, r *httpx.Request) (*recorder, map[string]any) {
	t.Helper()
	m, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	w := &recorder{}
	m(nil).ServeHTTPX(w, r)
	var got map[string]any
	if err := json.Unmarshal(w.body.Bytes(), &got); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, w.body.String())
	}
	return w, got
}

func request() *httpx.Request {
	r := &httpx.Request{Method: "GET", Path: "/agg/7", Host: "api", ID: "r1", Params: []httpx.Param{{Name: "id", Value: "7"}},
		Header: httpx.Header{{Name: "Authorization", Value: "Bearer t"}, {Name: "Accept-Encoding", Value: "gzip"}, {Name: "If-None-Match", Value: `"x"`}}}
	r.SetContext(context.Background())
	return r
}

func TestAggregateMerges(t *testing.T) {
	var mu sync.Mutex
	var seen []*httpx.Request
	record := func(h httpx.Handler) httpx.HandlerFunc {
		return func(w httpx.ResponseWriter, r *httpx.Request) {
			mu.Lock()
			seen = append(seen, r)
			mu.Unlock()
			h.ServeHTTPX(w, r)
		}
	}
	o := Options{MaxSize: 1 << 10, Calls: []Call{
		call("user", record(answer(200, `{"id":7,"name":"al"}`)), "/users/${param.id}", true),
		call("orders", record(answer(200, `[{"n":1}]`)), "/orders?user=${param.id}", false),
	}}
	w, got := serve(t, o, request())
	if w.status != 200 || w.h.Get("Content-Type") != "application/json" || w.h.Get("Content-Length") != itoa(w.body.Len()) {
		t.Fatalf("status %d header %v", w.status, w.h)
	}
	b, _ := json.Marshal(got)
	if want := `{"orders":[{"n":1}],"user":{"id":7,"name":"al"}}`; string(b) != want {
		t.Errorf("merged %s, want %s", b, want)
	}
	paths := map[string]string{}
	for _, r := range seen {
		paths[r.Path] = r.Query
		if r.Header.Get("Authorization") != "Bearer t" || r.Header.Has("Accept-Encoding") || r.Header.Has("If-None-Match") {
			t.Errorf("call header %v", r.Header)
		}
		if r.Local != nil || r.Context().Value(policy.StateKey) != nil {
			t.Error("a call shares the client request's per-request state")
		}
	}
	if q, ok := paths["/users/7"]; !ok || q != "" {
		t.Errorf("paths %v", paths)
	}
	if paths["/orders"] != "user=7" {
		t.Errorf("paths %v", paths)
	}
}

func TestAggregateRunsInParallel(t *testing.T) {
	// Each call waits for the other to have started: run one after the other, they would
	// both time out.
	var started sync.WaitGroup
	started.Add(2)
	meet := func(w httpx.ResponseWriter, r *httpx.Request) {
		started.Done()
		started.Wait()
		answer(200, `1`)(w, r)
	}
	o := Options{MaxSize: 1 << 10, Calls: []Call{
		call("a", httpx.HandlerFunc(meet), "/a", true),
		call("b", httpx.HandlerFunc(meet), "/b", true),
	}}
	w, got := serve(t, o, request())
	if w.status != 200 || got["a"] != 1.0 || got["b"] != 1.0 {
		t.Errorf("%d %v", w.status, got)
	}
}

func TestAggregateFailures(t *testing.T) {
	big := `"` + strings.Repeat("x", 100) + `"`
	tests := []struct {
		name     string
		h        httpx.Handler
		required bool
		status   int
		want     string // the optional call's error, or the 502's message
	}{
		{"optional 503", answer(503, `{}`), false, 200, "upstream answered 503"},
		{"optional timeout", httpx.HandlerFunc(slow), false, 200, "timed out after 50ms"},
		{"optional not JSON", answer(200, `<html>`), false, 200, "answer is not JSON"},
		{"optional too large", answer(200, big), false, 200, "answer larger than max_size"},
		{"required 503", answer(503, `{}`), true, 502, `aggregate call "x" failed: upstream answered 503`},
		{"required timeout", httpx.HandlerFunc(slow), true, 502, `aggregate call "x" failed: timed out after 50ms`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			x := call("x", tc.h, "/x", tc.required)
			x.Timeout = 50 * time.Millisecond
			o := Options{MaxSize: 64, Calls: []Call{call("ok", answer(200, `{"a":1}`), "/ok", true), x}}
			w, got := serve(t, o, request())
			if w.status != tc.status {
				t.Fatalf("status %d, want %d: %s", w.status, tc.status, w.body.String())
			}
			if tc.status == 502 {
				if msg := got["error"].(map[string]any)["message"]; msg != tc.want {
					t.Errorf("message %q, want %q", msg, tc.want)
				}
				return
			}
			if got["x"] != nil || got["ok"] == nil {
				t.Errorf("merged %v", got)
			}
			if errs, _ := got["errors"].(map[string]any); errs["x"] != tc.want {
				t.Errorf("errors %v, want x: %q", got["errors"], tc.want)
			}
		})
	}
}

func TestRequiredFailureCancelsTheOthers(t *testing.T) {
	// "slow" would run for its whole minute; the failed required call ends it at once.
	s := call("s", httpx.HandlerFunc(slow), "/s", true)
	s.Timeout = time.Minute
	o := Options{MaxSize: 64, Calls: []Call{s, call("x", answer(500, `{}`), "/x", true)}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w, got := serve(t, o, request())
		if msg := got["error"].(map[string]any)["message"]; w.status != 502 || msg != `aggregate call "x" failed: upstream answered 500` {
			t.Errorf("%d %v", w.status, got)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the slow call was not canceled")
	}
}

func TestNewErrors(t *testing.T) {
	ok := call("a", answer(200, "1"), "/a", true)
	for _, o := range []Options{
		{MaxSize: 1},
		{MaxSize: 1, Calls: []Call{ok, ok}},
		{MaxSize: 1, Calls: []Call{call("errors", answer(200, "1"), "/a", true)}},
		{Calls: []Call{ok}},
	} {
		if _, err := New(o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func BenchmarkAggregateTwoCalls(b *testing.B) {
	m, _ := New(Options{MaxSize: 1 << 10, Calls: []Call{
		call("user", answer(200, `{"id":7}`), "/users/${param.id}", true),
		call("orders", answer(200, `[1,2]`), "/orders?user=${param.id}", false),
	}})
	h := m(nil)
	r := request()
	w := &recorder{}
	b.ReportAllocs()
	for b.Loop() {
		w.h, w.status = w.h[:0], 0
		w.body.Reset()
		h.ServeHTTPX(w, r)
	}
}
