package tps

import (
	"strings"
	"testing"
	"time"
)

func testServices() []Service {
	return []Service{
		{Name: "payments", Priority: Critical, Min: 30},
		{Name: "search", Priority: High},
		{Name: "batch", Priority: Medium, Min: 10},
		{Name: "reports", Priority: Low, Min: 5},
	}
}

func newTestPool(t testing.TB, cfg PoolConfig, alloc string) *Pool {
	t.Helper()
	a, err := NewAllocator(alloc)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPool(cfg, a)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestNewPoolValidates(t *testing.T) {
	good := func() PoolConfig {
		return PoolConfig{Name: "partner", Capacity: 100, Tick: 250 * time.Millisecond, Services: testServices()}
	}
	for _, tc := range []struct {
		name string
		edit func(*PoolConfig)
		want string
	}{
		{"no name", func(c *PoolConfig) { c.Name = "" }, "name is empty"},
		{"zero capacity", func(c *PoolConfig) { c.Capacity = 0 }, "capacity"},
		{"zero tick", func(c *PoolConfig) { c.Tick = 0 }, "tick"},
		{"margin 1", func(c *PoolConfig) { c.Margin = 1 }, "margin"},
		{"negative queue", func(c *PoolConfig) { c.QueueMax = -1 }, "queue max"},
		{"no services", func(c *PoolConfig) { c.Services = nil }, "no services"},
		{"duplicate", func(c *PoolConfig) { c.Services[1].Name = "payments" }, "listed twice"},
		{"unnamed", func(c *PoolConfig) { c.Services[1].Name = "" }, "no name"},
		{"bad priority", func(c *PoolConfig) { c.Services[1].Priority = 9 }, "priority"},
		{"max below min", func(c *PoolConfig) { c.Services[0].Max = 10 }, "below min"},
		{"negative min", func(c *PoolConfig) { c.Services[1].Min = -1 }, "min -1"},
		{"mins over capacity", func(c *PoolConfig) { c.Services[1].Min = 90 }, "add up to 135"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good()
			c.Services = append([]Service(nil), c.Services...)
			tc.edit(&c)
			_, err := NewPool(c, &Waterfill{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	p, err := NewPool(good(), &Waterfill{})
	if err != nil {
		t.Fatal(err)
	}
	c := p.Config()
	if c.Margin != DefaultMargin || c.QueueMax != DefaultQueueMax || c.QueueTimeout != DefaultQueueTimeout {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if _, err := NewPool(good(), nil); err == nil {
		t.Fatal("nil allocator accepted")
	}
}
