package config

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestCluster(t *testing.T) {
	base := "listeners: [{name: web, address: \"127.0.0.1:8080\"}]\n"
	cfg, err := Parse("aya.yaml", []byte(base+"cluster: {redis: \"redis://127.0.0.1:6379\", node: n1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := Cluster{Line: 2, Redis: "redis://127.0.0.1:6379", Node: "n1", OnRedisDown: "open", Timeout: Duration(50 * time.Millisecond), Sync: "exact"}
	if c := cfg.Cluster; c == nil || *c != want {
		t.Fatalf("cluster %+v, want %+v", cfg.Cluster, want)
	}
	cfg, err = Parse("aya.yaml", []byte(base+"cluster:\n  redis: \"unix:///run/redis.sock\"\n  on_redis_down: closed\n  timeout: 200ms\n"))
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	if c := cfg.Cluster; c.Node != host || c.OnRedisDown != "closed" || c.Timeout.D() != 200*time.Millisecond {
		t.Fatalf("cluster %+v: want the host name %q as node, closed, 200ms", c, host)
	}
	cfg, err = Parse("aya.yaml", []byte(base+"cluster: {redis: \"redis://a:7000?addr=b:7000\", redis_cluster: true, node: n1}\n"))
	if err != nil || !cfg.Cluster.RedisCluster {
		t.Fatalf("a Redis Cluster: %+v %v", cfg.Cluster, err)
	}
	cfg, err = Parse("aya.yaml", []byte(base+"cluster: {redis: \"redis://x:1\", node: n1, sync: batched, batch: 20}\n"))
	if err != nil || cfg.Cluster.Sync != "batched" || cfg.Cluster.Batch != 20 {
		t.Fatalf("sync: batched: %+v %v", cfg.Cluster, err)
	}
	if cfg, _ := Parse("aya.yaml", []byte(base)); cfg.Cluster != nil {
		t.Fatal("no cluster: written, yet Cluster is set")
	}

	bad := []struct{ yaml, want string }{
		{"cluster: {node: n1}\n", "aya.yaml:2: cluster: redis is required"},
		{"cluster:\n  redis: \"http://x:1\"\n", `aya.yaml:3: cluster: redis URL scheme "http"`},
		{"cluster:\n  redis: \"redis://\"\n", "aya.yaml:3: cluster: redis URL names no host"},
		{"cluster:\n  redis: \"redis://a:b@x:1%zz\"\n", "aya.yaml:3: cluster: redis is not a URL"},
		{"cluster:\n  redis: \"unix://\"\n", "aya.yaml:3: cluster: redis unix URL names no socket"},
		{"cluster:\n  redis: \"redis://x:1\"\n  node: \"a b\"\n", `aya.yaml:4: cluster: node "a b"`},
		{"cluster:\n  redis: \"redis://x:1\"\n  on_redis_down: maybe\n", `aya.yaml:4: cluster: on_redis_down "maybe"`},
		{"cluster:\n  redis: \"redis://x:1\"\n  sync: eventual\n", `aya.yaml:4: cluster: sync "eventual"`},
		{"cluster:\n  redis: \"redis://x:1\"\n  sync: batched\n  batch: -1\n", "aya.yaml:5: cluster: batch -1"},
		{"cluster:\n  redis: \"redis://x:1\"\n  batch: 10\n", `aya.yaml:4: cluster: batch is set but sync is "exact"`},
		{"cluster:\n  redis: \"redis://x:1\"\n  timeout: 0\n", "aya.yaml:4: cluster: timeout 0s"},
		{"cluster:\n  redis: \"redis://x:1\"\n  timeout: 1m\n", "aya.yaml:4: cluster: timeout 1m0s"},
		{"cluster:\n  redis: \"redis://x:1?master_name=m\"\n  redis_cluster: true\n", "aya.yaml:4: cluster: redis names Sentinels"},
		{"cluster:\n  redis: \"unix:///r.sock\"\n  redis_cluster: true\n", "aya.yaml:3: cluster: a unix socket is one local Redis"},
	}
	for _, tc := range bad {
		_, err := Parse("aya.yaml", []byte(base+tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %q", tc.yaml, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "a:b@") {
			t.Errorf("%q: the error repeats the password: %v", tc.yaml, err)
		}
	}
}
