package cluster

import (
	"context"
	"log/slog"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
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

// TestBusAfterRedisRestart: after Redis restarts empty (its version counter lost), a node
// resubscribes by itself and applies the changes made from then on.
func TestBusAfterRedisRestart(t *testing.T) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (apt-get install -y redis-server); the bus is untested here")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	dir := t.TempDir()
	var cmd *exec.Cmd
	start := func() {
		cmd = exec.Command(bin, "--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no", "--dir", dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	start()
	t.Cleanup(func() { stop() })
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + port, MaxRetries: -1})
	defer c.Close()
	publish := func(bus *Bus, value string) {
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := bus.Publish(t.Context(), "keys", "team", []byte(value), 0); err == nil {
				return
			} else if time.Now().After(deadline) {
				t.Fatalf("publishing: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	var rb recorder
	a, b := NewBus(c, "a", BusOptions{}), NewBus(c, "b", BusOptions{})
	a.Handle("keys", func(context.Context, string, []byte) error { return nil })
	b.Handle("keys", rb.apply)
	runBus(t, b)
	publish(a, "v1")
	rb.wait(t, "team", "v1", 2*time.Second)

	stop()
	start()
	restarted := time.Now()
	publish(a, "v2")
	rb.wait(t, "team", "v2", 2*time.Second)
	t.Logf("a change made after Redis restarted was applied %v after the restart", time.Since(restarted).Round(time.Millisecond))
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
