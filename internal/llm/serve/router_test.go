package serve

import (
	"testing"
	"time"
)

func names(ds []*Deployment) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Model)
	}
	return out
}

func TestPlan(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	small := &Deployment{Model: "small", Weight: 1, ContextWindow: 100}
	busy := &Deployment{Model: "busy", Weight: 1, RPM: 10}
	roomy := &Deployment{Model: "roomy", Weight: 1, RPM: 10}
	cool := &Deployment{Model: "cool", Weight: 1}
	fb := &Model{Name: "fb", Strategy: Weighted, Deployments: []*Deployment{{Model: "fallback", Weight: 1}}}
	m := &Model{Name: "m", Strategy: UsageBased, Deployments: []*Deployment{small, busy, roomy, cool}, Fallbacks: []*Model{fb}}
	r := NewRouter([]*Model{m, fb}, nil, time.Second)
	r.now = func() time.Time { return now }
	busy.count(now, 6, 0)
	roomy.count(now, 2, 0)
	cool.cooldown.Store(now.Add(time.Second).UnixNano())

	tests := []struct {
		prompt int
		want   []string
	}{
		// usage_based: most headroom first (no limits = all headroom), cooling last after fallbacks.
		{50, []string{"small", "roomy", "busy", "fallback", "cool"}},
		// A prompt larger than small's window leaves small out.
		{500, []string{"roomy", "busy", "fallback", "cool"}},
	}
	for _, tt := range tests {
		if got := names(r.Plan(m, tt.prompt)); len(got) != len(tt.want) || got[0] != tt.want[0] || got[1] != tt.want[1] || got[len(got)-1] != "cool" || got[len(got)-2] != "fallback" {
			t.Errorf("prompt %d: got %v, want %v", tt.prompt, got, tt.want)
		}
	}
	busy.count(now, 4, 0) // busy reaches its RPM: tried only as a last resort
	if got := names(r.Plan(m, 500)); got[0] != "roomy" || got[1] != "fallback" {
		t.Fatalf("got %v: a deployment at its RPM must move last", got)
	}
	r.now = func() time.Time { return now.Add(time.Minute) } // a new minute
	cool.cooldown.Store(0)
	if got := names(r.Plan(m, 500)); got[0] != "busy" && got[0] != "roomy" && got[0] != "cool" {
		t.Fatalf("got %v", got)
	}
}

func BenchmarkPlan(b *testing.B) {
	b.ReportAllocs()
	m := &Model{Name: "m", Strategy: Weighted, Deployments: []*Deployment{{Model: "a", Weight: 3}, {Model: "b", Weight: 1}, {Model: "c", Weight: 1}}}
	r := NewRouter([]*Model{m}, nil, time.Second)
	for b.Loop() {
		r.Plan(m, 100)
	}
}

func TestStrategies(t *testing.T) {
	now := time.Now()
	mk := func() (a, b, c *Deployment) {
		return &Deployment{Model: "a", Weight: 1, InputCost: 3, OutputCost: 15}, &Deployment{Model: "b", Weight: 1, InputCost: 0.1, OutputCost: 0.4}, &Deployment{Model: "c", Weight: 1, InputCost: 1, OutputCost: 1}
	}
	a, b, c := mk()
	a.inflight.Store(5)
	b.inflight.Store(9)
	c.inflight.Store(1)
	ds := []*Deployment{a, b, c}
	order(LeastBusy, ds, now)
	if got := names(ds); got[0] != "c" || got[1] != "a" || got[2] != "b" {
		t.Errorf("least_busy: %v", got)
	}
	a, b, c = mk()
	a.observeLatency(300 * time.Millisecond)
	b.observeLatency(100 * time.Millisecond)
	ds = []*Deployment{a, b, c} // c is unmeasured: it goes first to get measured
	order(LowestLatency, ds, now)
	if got := names(ds); got[0] != "c" || got[1] != "b" || got[2] != "a" {
		t.Errorf("lowest_latency: %v", got)
	}
	a, b, c = mk()
	ds = []*Deployment{a, b, c}
	order(LowestCost, ds, now)
	if got := names(ds); got[0] != "b" || got[1] != "c" || got[2] != "a" {
		t.Errorf("lowest_cost: %v", got)
	}
	// The latency average follows recent calls.
	for range 20 {
		a.observeLatency(50 * time.Millisecond)
	}
	if l := time.Duration(a.latency.Load()); l > 60*time.Millisecond {
		t.Errorf("latency EWMA %v after 20 calls of 50ms", l)
	}
}
