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
	port := runRedis(t)
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), DialTimeout: time.Second})
	t.Cleanup(func() { c.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not answer within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

// runRedis starts redis-server with args on a free loopback port and returns the port.
func runRedis(t testing.TB, args ...string) int {
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
	cmd := exec.Command(bin, append([]string{"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--save", "", "--appendonly", "no", "--dir", t.TempDir()}, args...)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	return port
}

// TestMembershipOnRedisCluster registers and lists nodes through a Redis Cluster client (a
// one-node cluster holding every slot): the keys share a hash tag, so MGET and the heartbeat's
// transaction stay in one slot.
func TestMembershipOnRedisCluster(t *testing.T) {
	port := runRedis(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ctx := context.Background()
	one := goredis.NewClient(&goredis.Options{Addr: addr})
	defer one.Close()
	deadline := time.Now().Add(10 * time.Second)
	for one.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the one-node Redis Cluster did not take its slots within 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{addr}})
	defer c.Close()
	for c.Set(ctx, "probe", 1, 0).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("the one-node Redis Cluster did not serve within 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	o := Options{Prefix: "t:", Interval: 50 * time.Millisecond}
	a, err := Join(ctx, c, Node{Name: "a"}, o)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Join(ctx, c, Node{Name: "b"}, o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Leave(ctx)
	if got := names(t, c); len(got) != 2 {
		t.Fatalf("on a Redis Cluster: %v, want a and b", got)
	}
	if err := a.Leave(ctx); err != nil {
		t.Fatal(err)
	}
	if got := names(t, c); len(got) != 1 || got[0] != "b" {
		t.Fatalf("after a left: %v, want [b]", got)
	}
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
