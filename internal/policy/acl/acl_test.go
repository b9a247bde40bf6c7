package acl

import (
	"context"
	"testing"

	"aya/internal/httpx"
	"aya/internal/policy"
)

type recorder struct {
	h      httpx.Header
	status int
	body   []byte
}

func (r *recorder) Header() *httpx.Header { return &r.h }
func (r *recorder) WriteHeader(s int) {
	if r.status == 0 {
		r.status = s
	}
}
func (r *recorder) Write(p []byte) (int, error) {
	r.WriteHeader(200)
	r.body = append(r.body, p...)
	return len(p), nil
}
func (r *recorder) Flush() error { return nil }

var ok = httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) { w.WriteHeader(204) })

func TestACL(t *testing.T) {
	alice := &policy.Consumer{Name: "alice", Groups: []string{"paid"}}
	bob := &policy.Consumer{Name: "bob", Groups: []string{"free", "banned"}}
	carol := &policy.Consumer{Name: "carol"}
	tests := []struct {
		name   string
		o      Options
		c      *policy.Consumer
		status int
	}{
		{"anonymous is 401", Options{AllowGroups: []string{"paid"}}, nil, 401},
		{"allowed group", Options{AllowGroups: []string{"paid"}}, alice, 204},
		{"not in group", Options{AllowGroups: []string{"paid"}}, bob, 403},
		{"allowed consumer", Options{AllowConsumers: []string{"carol"}}, carol, 204},
		{"group or consumer", Options{AllowGroups: []string{"paid"}, AllowConsumers: []string{"carol"}}, carol, 204},
		{"deny wins", Options{AllowConsumers: []string{"bob"}, DenyGroups: []string{"banned"}}, bob, 403},
		{"deny only lets others in", Options{DenyGroups: []string{"banned"}}, carol, 204},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := New(Options{AllowGroups: tc.o.AllowGroups, DenyGroups: tc.o.DenyGroups, AllowConsumers: tc.o.AllowConsumers,
				Challenge: []string{`Bearer realm="aya"`}})(ok)
			r := &httpx.Request{Method: "GET", Path: "/"}
			r.SetContext(policy.WithState(context.Background(), &policy.State{Consumer: tc.c}))
			w := &recorder{}
			h.ServeHTTPX(w, r)
			if w.status != tc.status {
				t.Fatalf("status %d, want %d (%s)", w.status, tc.status, w.body)
			}
			if got := w.h.Get("WWW-Authenticate"); (tc.status == 401) != (got != "") {
				t.Errorf("WWW-Authenticate %q with status %d", got, tc.status)
			}
		})
	}
}

func BenchmarkACL(b *testing.B) {
	h := New(Options{AllowGroups: []string{"gold", "paid"}, DenyGroups: []string{"banned"}})(ok)
	r := &httpx.Request{Method: "GET", Path: "/"}
	r.SetContext(policy.WithState(context.Background(), &policy.State{Consumer: &policy.Consumer{Name: "alice", Groups: []string{"paid"}}}))
	w := &recorder{}
	b.ReportAllocs()
	for b.Loop() {
		w.status = 0
		h.ServeHTTPX(w, r)
	}
}
