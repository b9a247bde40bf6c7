package gateway

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"aya/internal/config"
	"aya/internal/l4/l4test"
)

const l4Config = `
listeners:
  - {name: db, address: "127.0.0.1:0", protocol: tcp, upstream: pg}
upstreams:
  - {name: pg, targets: ["tcp://%s"]}
admin: {address: "127.0.0.1:0"}
`

// TestL4ReloadKeepsListener: a reload that changes only the upstream keeps the tcp
// listener's socket and open connections, and sends new connections to the new targets.
func TestL4ReloadKeepsListener(t *testing.T) {
	a, b := l4test.NameEcho(t, "a"), l4test.NameEcho(t, "b")
	cfg, err := config.Parse("aya.yaml", []byte(fmt.Sprintf(l4Config, a)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	addr := g.Addr("db")
	dial := func() (net.Conn, *bufio.Reader, string) {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		br := bufio.NewReader(c)
		name, _ := br.ReadString('\n')
		return c, br, strings.TrimSpace(name)
	}
	old, oldR, name := dial()
	defer old.Close()
	if name != "a" {
		t.Fatalf("first connection reached %q", name)
	}

	cfg, err = config.Parse("aya.yaml", []byte(fmt.Sprintf(l4Config, b)))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if g.Addr("db") != addr {
		t.Fatalf("the unchanged listener was rebound: %s, then %s", addr, g.Addr("db"))
	}
	c, _, name := dial()
	c.Close()
	if name != "b" {
		t.Errorf("new connection after reload reached %q, want b", name)
	}
	io.WriteString(old, "still\n")
	if s, err := oldR.ReadString('\n'); err != nil || s != "still\n" {
		t.Errorf("open connection after reload: %q, %v", s, err)
	}
	old.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if _, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		t.Error("the tcp listener still accepts after Shutdown")
	}
}
