package upstream

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"aya/internal/balance"
	"aya/internal/config"
	"aya/internal/demo"
)

func healthCfg(mut func(*config.Health)) config.Health {
	h := config.Health{Type: config.HealthHTTP, Path: "/healthz", Method: "GET", Interval: config.Duration(20 * time.Millisecond),
		Timeout: config.Duration(time.Second), Rise: 2, Fall: 2, ExpectStatus: config.StatusSet{{Lo: 200, Hi: 399}}}
	if mut != nil {
		mut(&h)
	}
	return h
}

func TestProbes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := demo.Start(ctx, "127.0.0.1:0", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host != "check.example" && r.URL.Path == "/host" {
			w.WriteHeader(500)
		}
		if r.Header.Get("X-Probe") == "no" {
			w.WriteHeader(503)
		}
		w.Write([]byte("status: all good"))
	}))
	if err != nil {
		t.Fatal(err)
	}
	gaddr, err := demo.StartGRPC(ctx, "127.0.0.1:0", "g")
	if err != nil {
		t.Fatal(err)
	}
	closed := freeAddr(t)
	web := &Target{Name: "web", Scheme: "http", Addr: addr.String(), Host: addr.String()}
	tests := []struct {
		name    string
		cfg     config.Health
		target  *Target
		wantErr string
	}{
		{"http ok", healthCfg(nil), web, ""},
		{"http substring", healthCfg(func(h *config.Health) { h.Body = "all good" }), web, ""},
		{"http substring missing", healthCfg(func(h *config.Health) { h.Body = "bad" }), web, "body does not match"},
		{"http regex", healthCfg(func(h *config.Health) { h.Body = "/^status: (all|some) good$/" }), web, ""},
		{"http regex miss", healthCfg(func(h *config.Health) { h.Body = "/^good/" }), web, "body does not match"},
		{"http status", healthCfg(func(h *config.Health) { h.ExpectStatus = config.StatusSet{{Lo: 204, Hi: 204}} }), web, "status 200, want 204"},
		{"http header", healthCfg(func(h *config.Health) { h.Header = map[string]string{"X-Probe": "no"} }), web, "status 503"},
		{"http host", healthCfg(func(h *config.Health) { h.Path, h.Host = "/host", "check.example" }), web, ""},
		{"http wrong host", healthCfg(func(h *config.Health) { h.Path = "/host" }), web, "status 500"},
		{"http refused", healthCfg(nil), &Target{Scheme: "http", Addr: closed, Host: closed}, "refused"},
		{"tcp ok", healthCfg(func(h *config.Health) { h.Type = config.HealthTCP }), web, ""},
		{"tcp refused", healthCfg(func(h *config.Health) { h.Type = config.HealthTCP }), &Target{Addr: closed}, "refused"},
		{"tcp port", healthCfg(func(h *config.Health) { h.Type, h.Port = config.HealthTCP, portOf(closed) }), web, "refused"},
		{"grpc ok", healthCfg(func(h *config.Health) { h.Type = config.HealthGRPC }), &Target{Scheme: "h2c", Addr: gaddr.String(), Host: "g"}, ""},
		{"grpc unknown service", healthCfg(func(h *config.Health) { h.Type, h.GRPCService = config.HealthGRPC, "nope" }), &Target{Scheme: "h2c", Addr: gaddr.String(), Host: "g"}, "NotFound"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := newProber(tc.cfg)
			defer p.close()
			cctx, ccancel := context.WithTimeout(ctx, 2*time.Second)
			defer ccancel()
			err := p.check(cctx, tc.target)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	ln.Close()
	return a
}

func portOf(addr string) int {
	_, p, _ := net.SplitHostPort(addr)
	n := 0
	for _, c := range p {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestRiseAndFall(t *testing.T) {
	s := newTargetState(nil, "t")
	fail := errors.New("down")
	steps := []struct {
		err      error
		flipped  bool
		wantDown bool
	}{
		{nil, false, false},
		{fail, false, false},
		{nil, false, false}, // a pass resets the failure run
		{fail, false, false},
		{fail, false, false},
		{fail, true, true}, // fall = 3
		{nil, false, true},
		{fail, false, true}, // a failure resets the pass run
		{nil, false, true},
		{nil, true, false}, // rise = 2
	}
	for i, st := range steps {
		if got := s.checked(time.Now(), st.err, 2, 3); got != st.flipped || s.down.Load() != st.wantDown {
			t.Fatalf("step %d: flipped %v down %v, want %v %v", i, got, s.down.Load(), st.flipped, st.wantDown)
		}
	}
	if st := s.Status(); st.State != StateHealthy || st.ConsecutiveFailures != 0 {
		t.Fatalf("status %+v", st)
	}
}

// poolOf builds a registry pool over n targets named t0..tn-1 with the given settings.
func poolOf(t *testing.T, reg *Registry, u config.Upstream, n int) *Pool {
	t.Helper()
	return poolOfB(t, reg, u, n)
}

// quiet discards the logs of registries under test.
var quiet = slog.New(slog.DiscardHandler)

// rr builds round_robin balancers.
func rr() balance.Balancer {
	b, _ := balance.New("round_robin", balance.Options{})
	return b
}

func poolOfB(t testing.TB, reg *Registry, u config.Upstream, n int) *Pool {
	ts := make([]*Target, n)
	for i := range ts {
		name := "t" + string(rune('0'+i))
		ts[i] = &Target{Name: name, Balance: balance.NewTarget(name, 1), Transport: &nopTransport{}}
	}
	p := reg.poolOver(&u, rr, ts)
	reg.Activate([]*Pool{p})
	return p
}

// availNames lists the targets that take requests, group by group.
func availNames(p *Pool) string {
	var s []string
	for _, c := range p.view.Load().choices {
		for _, bt := range c.targets {
			s = append(s, bt.Name)
		}
	}
	return strings.Join(s, ",")
}

// firstSlice is the backing array of the first group's slice, to tell slices apart.
func firstSlice(p *Pool) **balance.Target { return &p.view.Load().choices[0].targets[0] }

func TestPoolFiltersDownTargetsAndPanics(t *testing.T) {
	reg := NewRegistry(quiet)
	defer reg.Close()
	p := poolOf(t, reg, config.Upstream{Name: "u", PanicThreshold: 0.5}, 4)
	first := firstSlice(p)
	mark := func(i int, down bool) {
		p.Targets()[i].State.down.Store(down)
		p.refresh()
	}
	mark(1, true)
	if got := availNames(p); got != "t0,t2,t3" || p.Panicking() {
		t.Fatalf("one down: %s panic %v", got, p.Panicking())
	}
	withOut1 := firstSlice(p)
	mark(1, false)
	if firstSlice(p) != first {
		t.Fatal("the set all-up came back as a new slice: balancers would rebuild their tables")
	}
	mark(1, true)
	if firstSlice(p) != withOut1 {
		t.Fatal("a flapping target did not get the previous slice back")
	}
	mark(2, false)
	mark(2, true) // 2 of 4 up: 50% is not below the threshold
	if got := availNames(p); got != "t0,t3" || p.Panicking() {
		t.Fatalf("half down: %s panic %v", got, p.Panicking())
	}
	mark(3, true) // 1 of 4: panic, balance over all
	if got := availNames(p); got != "t0,t1,t2,t3" || !p.Panicking() {
		t.Fatalf("panic: %s panic %v", got, p.Panicking())
	}
	strict := poolOf(t, NewRegistry(quiet), config.Upstream{Name: "s"}, 2)
	for _, tg := range strict.Targets() {
		tg.State.down.Store(true)
	}
	strict.refresh()
	if strict.Pick(nil) != nil {
		t.Fatal("panic_threshold 0 still picked a down target")
	}
}

func TestRegistryHandsStateOverAndChecks(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := demo.Start(ctx, "127.0.0.1:0", demo.NewEcho(demo.EchoOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	dead := freeAddr(t)
	h := healthCfg(nil)
	u := config.Upstream{Name: "u", Health: &h}
	reg := NewRegistry(quiet)
	defer reg.Close()
	build := func(addrs ...string) *Pool {
		var ts []*Target
		for _, a := range addrs {
			ts = append(ts, &Target{Name: "http://" + a, Scheme: "http", Addr: a, Host: a, Balance: balance.NewTarget(a, 1), Transport: &nopTransport{}})
		}
		return reg.poolOver(&u, rr, ts)
	}
	p1 := build(addr.String(), dead)
	reg.Activate([]*Pool{p1})
	waitFor(t, time.Second, func() bool { return availNames(p1) == addr.String() })
	deadState := p1.Targets()[1].State

	// A reload that keeps both targets and adds one: the dead target stays down from the start,
	// and the live checker is the one it had.
	third := freeAddr(t)
	p2 := build(addr.String(), dead, third)
	if p2.Targets()[1].State != deadState || availNames(p2) != addr.String()+","+third {
		t.Fatalf("state not handed over: avail %s", availNames(p2))
	}
	checker := reg.upstream("u").checkers["http://"+dead]
	reg.Activate([]*Pool{p2})
	if reg.upstream("u").checkers["http://"+dead] != checker {
		t.Fatal("an unchanged target's checker was restarted")
	}
	waitFor(t, time.Second, func() bool { return availNames(p2) == addr.String() })

	// Dropping the upstream stops its checks and forgets its state.
	reg.Activate(nil)
	if n := len(reg.upstream("u").checkers); n != 0 {
		t.Fatalf("%d checkers left", n)
	}
}

func waitFor(t *testing.T, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %v", limit)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func BenchmarkPickHealthFiltered(b *testing.B) {
	reg := NewRegistry(quiet)
	defer reg.Close()
	ts := make([]*Target, 8)
	for i := range ts {
		name := "t" + string(rune('0'+i))
		ts[i] = &Target{Name: name, Balance: balance.NewTarget(name, 1), Transport: &nopTransport{}}
	}
	p := reg.poolOver(&config.Upstream{Name: "u", PanicThreshold: 0.5}, rr, ts)
	ts[3].State.down.Store(true)
	p.refresh()
	b.ReportAllocs()
	for b.Loop() {
		if p.Pick(nil) == ts[3] {
			b.Fatal("picked a down target")
		}
	}
}
