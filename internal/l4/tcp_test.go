package l4

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pires/go-proxyproto"

	"aya/internal/l4/l4test"
	"aya/internal/upstream"
)

// hello dials addr, reads the backend's name line, and checks the echo.
func hello(t *testing.T, addr string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	name, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("read name: %v", err)
	}
	io.WriteString(c, "ping\n")
	if got, err := br.ReadString('\n'); err != nil || got != "ping\n" {
		t.Fatalf("echo = %q, %v", got, err)
	}
	return strings.TrimSpace(name)
}

func TestTCPBalancesAndFailsOver(t *testing.T) {
	a, b, dead := echoServer(t, "a"), echoServer(t, "b"), deadAddr(t)
	pool := newTestPool(t, "round_robin", a, dead, b)
	m := NewMetrics()
	p := NewTCP(TCPConfig{Listener: "db", Upstream: "pg", Idle: 5 * time.Second}, resolver(map[string]Pool{"pg": pool}), m, discard())
	addr := startTCP(t, p)
	seen := map[string]int{}
	for range 6 {
		seen[hello(t, addr)]++
	}
	if seen["a"] == 0 || seen["b"] == 0 || seen["a"]+seen["b"] != 6 {
		t.Errorf("backends seen = %v, want both, every connection served", seen)
	}
	fails := pool.outcomesOf(dead)
	if len(fails) == 0 || fails[0] != upstream.ConnectFailure {
		t.Errorf("dead target outcomes = %v, want connect failures", fails)
	}
}

func TestTCPNoTarget(t *testing.T) {
	pool := newTestPool(t, "round_robin", deadAddr(t))
	p := NewTCP(TCPConfig{Listener: "db", Upstream: "pg"}, resolver(map[string]Pool{"pg": pool}), NewMetrics(), discard())
	addr := startTCP(t, p)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatalf("read %d bytes, want the connection closed", n)
	}
}

func TestTCPProxyProtocol(t *testing.T) {
	// The backend reads a PROXY header and answers with the source it names.
	backend := l4test.Serve(t, func(c net.Conn) {
		br := bufio.NewReader(c)
		h, err := proxyproto.Read(br)
		if err != nil {
			io.WriteString(c, "no header: "+err.Error()+"\n")
			return
		}
		io.WriteString(c, h.SourceAddr.String()+" v"+string('0'+h.Version)+"\n")
		io.Copy(c, br)
	})
	pool := newTestPool(t, "round_robin", backend)
	for _, tc := range []struct {
		name   string
		cfg    TCPConfig
		header []byte // what the client sends first
		want   string
	}{
		{"send v2", TCPConfig{SendProxy: 2}, nil, "127.0.0.1:"},
		{"send v1", TCPConfig{SendProxy: 1}, nil, "127.0.0.1:"},
		{"accept v1, send v2", TCPConfig{AcceptProxy: true, SendProxy: 2}, []byte("PROXY TCP4 203.0.113.7 127.0.0.1 4711 5432\r\n"), "203.0.113.7:4711 v2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Listener, cfg.Upstream = "db", "pg"
			p := NewTCP(cfg, resolver(map[string]Pool{"pg": pool}), NewMetrics(), discard())
			addr := startTCP(t, p)
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			c.Write(append(tc.header, "data\n"...))
			br := bufio.NewReader(c)
			line, _ := br.ReadString('\n')
			if !strings.HasPrefix(line, tc.want) || !strings.Contains(line, " v"+string('0'+cfg.SendProxy)) {
				t.Errorf("backend saw %q, want prefix %q", line, tc.want)
			}
			if echo, _ := br.ReadString('\n'); echo != "data\n" {
				t.Errorf("echo = %q", echo)
			}
		})
	}
}

func TestTCPAcceptProxyRefusesBareClients(t *testing.T) {
	pool := newTestPool(t, "round_robin", echoServer(t, "a"))
	m := NewMetrics()
	p := NewTCP(TCPConfig{Listener: "db", Upstream: "pg", AcceptProxy: true}, resolver(map[string]Pool{"pg": pool}), m, discard())
	addr := startTCP(t, p)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET / HTTP/1.1\r\n\r\n")
	if n, err := c.Read(make([]byte, 64)); err == nil {
		t.Fatalf("read %d bytes, want the connection refused", n)
	}
}

func TestTCPSNIPassthrough(t *testing.T) {
	ca, a := tlsServer(t, "a.example")
	_, b := tlsServer(t, "b.example")
	pools := map[string]Pool{"ua": newTestPool(t, "round_robin", a), "ub": newTestPool(t, "round_robin", b)}
	p := NewTCP(TCPConfig{Listener: "tls", SNI: map[string]string{"a.example": "ua", "*.b.example": "ub"}}, resolver(pools), NewMetrics(), discard())
	addr := startTCP(t, p)
	for _, tc := range []struct{ sni, want string }{{"a.example", "a.example"}, {"x.b.example", "b.example"}} {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, &tls.Config{ServerName: tc.sni, RootCAs: ca, InsecureSkipVerify: tc.sni != "a.example"})
		if err != nil {
			t.Fatalf("%s: %v", tc.sni, err)
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if strings.TrimSpace(line) != tc.want {
			t.Errorf("server name %s reached %q, want %q", tc.sni, line, tc.want)
		}
	}
	// No match and no default: refused.
	_, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, &tls.Config{ServerName: "c.example", InsecureSkipVerify: true})
	if err == nil {
		t.Error("an unrouted server name got a handshake")
	}
}

func TestTCPMaxConns(t *testing.T) {
	pool := newTestPool(t, "round_robin", echoServer(t, "a"))
	p := NewTCP(TCPConfig{Listener: "db", Upstream: "pg", MaxConns: 1}, resolver(map[string]Pool{"pg": pool}), NewMetrics(), discard())
	addr := startTCP(t, p)
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	first.SetDeadline(time.Now().Add(5 * time.Second))
	bufio.NewReader(first).ReadString('\n') // connected through
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	second.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := second.Read(make([]byte, 8)); err == nil {
		t.Fatalf("second connection read %d bytes, want it closed at max_conns 1", n)
	}
}

func TestTCPIdleTimeout(t *testing.T) {
	pool := newTestPool(t, "round_robin", echoServer(t, "a"))
	p := NewTCP(TCPConfig{Listener: "db", Upstream: "pg", Idle: 200 * time.Millisecond}, resolver(map[string]Pool{"pg": pool}), NewMetrics(), discard())
	addr := startTCP(t, p)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	br.ReadString('\n')
	// Activity keeps it open past the timeout...
	for range 4 {
		time.Sleep(100 * time.Millisecond)
		io.WriteString(c, "x\n")
		if s, err := br.ReadString('\n'); err != nil || s != "x\n" {
			t.Fatalf("active connection: %q, %v", s, err)
		}
	}
	// ...silence closes it.
	start := time.Now()
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("idle connection stayed open")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("idle close took %v", took)
	}
}

func TestTCPShutdownDrains(t *testing.T) {
	pool := newTestPool(t, "round_robin", echoServer(t, "a"))
	p := NewTCP(TCPConfig{Listener: "db", Upstream: "pg"}, resolver(map[string]Pool{"pg": pool}), NewMetrics(), discard())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(ln)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	br.ReadString('\n')
	done := make(chan error, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { done <- p.Shutdown(ctx) }()
	time.Sleep(50 * time.Millisecond)
	// New connections are refused; the open one still works.
	if c2, err := net.DialTimeout("tcp", ln.Addr().String(), time.Second); err == nil {
		c2.Close()
		t.Error("listener still accepts during drain")
	}
	io.WriteString(c, "still here\n")
	if s, err := br.ReadString('\n'); err != nil || s != "still here\n" {
		t.Fatalf("draining connection: %q, %v", s, err)
	}
	c.Close()
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v, want nil once the connection ended", err)
	}
}
