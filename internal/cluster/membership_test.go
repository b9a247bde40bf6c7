package cluster

import (
	"context"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// startRedis runs a redis-server on a free loopback port for the test.
func startRedis(t testing.TB) *goredis.Client {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server is not installed (apt-get install -y redis-server); membership is untested here")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), DialTimeout: time.Second})
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

func names(t *testing.T, c goredis.UniversalClient) []string {
	t.Helper()
	nodes, err := Live(context.Background(), c, "t:")
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, n := range nodes {
		out = append(out, n.Name)
	}
	return out
}

func TestMembership(t *testing.T) {
	c := startRedis(t)
	ctx := context.Background()
	o := Options{Prefix: "t:", Interval: 50 * time.Millisecond, TTL: 200 * time.Millisecond}
	started := time.Now().UTC().Truncate(time.Second)
	a, err := Join(ctx, c, Node{Name: "a", Version: "v1", Admin: "127.0.0.1:9901", Started: started}, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Join(ctx, c, Node{Name: "b", Version: "v1", Admin: "127.0.0.1:9902", Started: started}, o)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := a.Live(ctx)
	if err != nil || len(nodes) != 2 || nodes[0] != (Node{Name: "a", Version: "v1", Admin: "127.0.0.1:9901", Started: started}) || nodes[1].Name != "b" {
		t.Fatalf("live %+v %v, want a and b", nodes, err)
	}

	// Beats keep a node listed well past its TTL.
	time.Sleep(500 * time.Millisecond)
	if got := names(t, c); len(got) != 2 {
		t.Fatalf("after 2.5 TTLs of heartbeats: %v, want a and b", got)
	}

	// Leaving removes the node at once.
	if err := b.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if got := names(t, c); len(got) != 1 || got[0] != "a" {
		t.Fatalf("after b left: %v, want [a]", got)
	}

	// A node that dies (no Leave: its heartbeat just stops) drops out after its TTL, and its
	// name leaves the index.
	a.stopOnce.Do(func() { close(a.stop) })
	<-a.done
	time.Sleep(300 * time.Millisecond)
	if got := names(t, c); len(got) != 0 {
		t.Fatalf("after a's heartbeat stopped for more than its TTL: %v, want none", got)
	}
	if n, _ := c.SCard(ctx, "t:{nodes}").Result(); n != 0 {
		t.Fatalf("the index still holds %d dead names", n)
	}
}

func TestJoinWithoutRedis(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	defer c.Close()
	m, err := Join(context.Background(), c, Node{Name: "a"}, Options{Interval: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("Join with Redis down: %v, want the heartbeat to keep trying", err)
	}
	if _, err := m.Live(context.Background()); err == nil {
		t.Fatal("Live with Redis down answered no error")
	}
	if err := m.Leave(context.Background()); err == nil {
		t.Fatal("Leave with Redis down answered no error")
	}
	if _, err := Join(context.Background(), c, Node{}, Options{}); err == nil {
		t.Fatal("a node without a name joined")
	}
}
