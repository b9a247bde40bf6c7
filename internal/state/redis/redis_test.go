package redis

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"aya/internal/state"
	"aya/internal/state/statetest"
)

// startRedis runs a throwaway redis-server on a free loopback port for the test, and stops it
// afterwards. The test is skipped only when the binary is not installed.
func startRedis(t testing.TB) *goredis.Client {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (apt-get install -y redis-server); the Redis store is untested here")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	ln.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(addr.Port), "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	c := goredis.NewClient(&goredis.Options{Addr: addr.String(), DialTimeout: time.Second})
	t.Cleanup(func() {
		c.Close()
		cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

func TestConformance(t *testing.T) {
	c := startRedis(t)
	statetest.Run(t, New(c, "aya:rl:"), "conf:")
}

// The script must give the memory store's answers, step by step, for every algorithm.
func TestSameAnswersAsMemory(t *testing.T) {
	c := startRedis(t)
	s := New(c, "aya:rl:")
	ctx := context.Background()
	t0 := time.Unix(1_700_000_000, 0)
	limits := []state.Limit{
		{Algorithm: state.GCRA, Count: 10, Period: time.Second, Burst: 3},
		{Algorithm: state.FixedWindow, Count: 3, Period: time.Second},
		{Algorithm: state.SlidingWindow, Count: 4, Period: time.Second},
		{Algorithm: state.SlidingLog, Count: 3, Period: time.Second},
		{Algorithm: state.FixedWindow, Count: 2, Monthly: true},
	}
	steps := []time.Duration{0, 0, 0, 0, 50 * time.Millisecond, 100 * time.Millisecond, 400 * time.Millisecond,
		1000 * time.Millisecond, 1000 * time.Millisecond, 1500 * time.Millisecond, 1500 * time.Millisecond, 1750 * time.Millisecond, 2600 * time.Millisecond}
	for _, l := range limits {
		var cell state.Cell
		key := "same:" + l.Algorithm.String()
		if l.Monthly {
			key += ":monthly"
		}
		for i, at := range steps {
			now := t0.Add(at)
			want, _ := l.Decide(&cell, now.UnixNano())
			got, err := s.Allow(ctx, key, l, now)
			if err != nil {
				t.Fatal(err)
			}
			if got.Allowed != want.Allowed || got.Remaining != want.Remaining || got.Limit != want.Limit ||
				(got.RetryAfter-want.RetryAfter).Abs() > 2*time.Microsecond || (got.Reset-want.Reset).Abs() > 2*time.Microsecond {
				t.Fatalf("%s step %d (+%v): redis %+v, memory %+v", l.Algorithm, i, at, got, want)
			}
		}
	}
}

func TestKeysExpire(t *testing.T) {
	c := startRedis(t)
	s := New(c, "aya:rl:")
	ctx := context.Background()
	// The bucket refills in 100 ms: the key must carry about that TTL (not none, not the
	// period), and be gone once it has passed. The bounds leave room for a slow machine.
	l := state.Limit{Algorithm: state.GCRA, Count: 10, Period: time.Second, Burst: 1}
	if _, err := s.Allow(ctx, "exp", l, time.Now()); err != nil {
		t.Fatal(err)
	}
	ttl, err := c.PTTL(ctx, "aya:rl:exp").Result()
	if err != nil || ttl <= 0 || ttl > 200*time.Millisecond {
		t.Fatalf("TTL %v %v, want about 100ms (the bucket refills in 100ms)", ttl, err)
	}
	time.Sleep(ttl + 200*time.Millisecond)
	if n, err := c.Exists(ctx, "aya:rl:exp").Result(); err != nil || n != 0 {
		t.Fatalf("the key is still there %v after its TTL (%v)", ttl+200*time.Millisecond, err)
	}
}

func TestUnreachable(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", DialTimeout: 200 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	_, err := New(c, "x:").Allow(context.Background(), "k", state.Limit{Algorithm: state.GCRA, Count: 1, Period: time.Second, Burst: 1}, time.Now())
	if err == nil {
		t.Fatal("no error from an unreachable Redis")
	}
}

func BenchmarkAllowGCRA(b *testing.B) {
	c := startRedis(b)
	s := New(c, "aya:rl:")
	ctx := context.Background()
	l := state.Limit{Algorithm: state.GCRA, Count: 1e9, Period: time.Second, Burst: 1e6}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Allow(ctx, "bench", l, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
