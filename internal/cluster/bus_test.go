package cluster

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// recorder is an Applier that keeps what it was given.
type recorder struct {
	mu  sync.Mutex
	got map[string]string
	n   int
}

func (r *recorder) apply(_ context.Context, field string, value []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.got == nil {
		r.got = map[string]string{}
	}
	r.got[field] = string(value)
	r.n++
	return nil
}

func (r *recorder) wait(t *testing.T, field, want string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		r.mu.Lock()
		got := r.got[field]
		r.mu.Unlock()
		if got == want {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s = %q after %v, want %q", field, got, within, want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func runBus(t *testing.T, b *Bus) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// TestBus: a change published on one node reaches another within a second and in version
// order; the publisher does not apply its own change again; a node that starts later reads
// every record on subscribing.
func TestBus(t *testing.T) {
	c := startRedis(t)
	opt := BusOptions{Log: slog.New(slog.DiscardHandler)}
	var ra, rb, rc recorder
	a, b := NewBus(c, "a", opt), NewBus(c, "b", opt)
	a.Handle("keys", ra.apply)
	b.Handle("keys", rb.apply)
	runBus(t, a)
	runBus(t, b)
	time.Sleep(100 * time.Millisecond) // both subscribed

	for i, v := range []string{"v1", "v2", "v3"} {
		if _, err := a.Publish(t.Context(), "keys", "team", []byte(v), 0); err != nil {
			t.Fatal(err)
		}
		took := rb.wait(t, "team", v, time.Second)
		if i == 0 {
			t.Logf("a change reached the other node in %v", took)
		}
	}
	if _, err := b.Publish(t.Context(), "keys", "ops", []byte("x y"), 0); err != nil {
		t.Fatal(err)
	}
	ra.wait(t, "ops", "x y", time.Second)
	time.Sleep(50 * time.Millisecond)
	ra.mu.Lock()
	if ra.n != 1 {
		t.Errorf("node a applied %d records, want 1 (its own changes are not applied again)", ra.n)
	}
	ra.mu.Unlock()

	late := NewBus(c, "c", opt)
	late.Handle("keys", rc.apply)
	runBus(t, late)
	rc.wait(t, "team", "v3", time.Second)
	rc.wait(t, "ops", "x y", time.Second)
}

// TestBusCatchesUpAfterDisconnect: changes made while a node's subscription was cut are
// applied once it resubscribes.
func TestBusCatchesUpAfterDisconnect(t *testing.T) {
	c := startRedis(t)
	opt := BusOptions{Log: slog.New(slog.DiscardHandler), Resync: 200 * time.Millisecond}
	var rb recorder
	a, b := NewBus(c, "a", opt), NewBus(c, "b", opt)
	b.Handle("keys", rb.apply)
	a.Handle("keys", func(context.Context, string, []byte) error { return nil })
	runBus(t, b)
	time.Sleep(100 * time.Millisecond)
	// Drop b's subscription connection: the change below is published while it reconnects.
	if err := c.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(t.Context(), "keys", "team", []byte("v1"), 0); err != nil {
		t.Fatal(err)
	}
	t.Logf("caught up in %v", rb.wait(t, "team", "v1", 2*time.Second))
}

func BenchmarkBusPublish(b *testing.B) {
	bus := NewBus(startRedis(b), "a", BusOptions{})
	bus.Handle("keys", func(context.Context, string, []byte) error { return nil })
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		bus.Publish(ctx, "keys", "team", []byte("value"), 0)
	}
}
