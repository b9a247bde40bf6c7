package test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/pires/go-proxyproto"

	"aya/internal/demo"
	"aya/internal/l4/l4test"
)

// tcpBackend serves on a free loopback port: each connection gets greet(conn) as its first
// line, then an echo of what it sends.
func tcpBackend(t *testing.T, greet func(c net.Conn, br *bufio.Reader) string) string {
	t.Helper()
	return l4test.Serve(t, func(c net.Conn) {
		c.SetDeadline(time.Now().Add(20 * time.Second))
		br := bufio.NewReader(c)
		io.WriteString(c, greet(c, br)+"\n")
		io.Copy(c, br)
	})
}

func named(name string) func(net.Conn, *bufio.Reader) string {
	return func(net.Conn, *bufio.Reader) string { return name }
}

// l4Conn is a client connection through aya.
type l4Conn struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func dialL4(t *testing.T, addr string) *l4Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	return &l4Conn{t: t, c: c, br: bufio.NewReader(c)}
}

func (l *l4Conn) line() string {
	l.t.Helper()
	s, err := l.br.ReadString('\n')
	if err != nil {
		l.t.Fatalf("read: %v (got %q)", err, s)
	}
	return strings.TrimSpace(s)
}

func (l *l4Conn) echo(msg string) {
	l.t.Helper()
	io.WriteString(l.c, msg+"\n")
	if got := l.line(); got != msg {
		l.t.Fatalf("echo = %q, want %q", got, msg)
	}
}

// greeting connects through aya and returns the backend's first line after checking the echo.
func greeting(t *testing.T, addr string) string {
	t.Helper()
	c := dialL4(t, addr)
	defer c.c.Close()
	name := c.line()
	c.echo("ping")
	return name
}

func TestL4TCPBalanceFailoverHealth(t *testing.T) {
	a, b := tcpBackend(t, named("a")), tcpBackend(t, named("b"))
	dead := freePort(t)
	addr := freePort(t)
	p := startAya(t, fmt.Sprintf(`
admin: {address: "{{ADMIN}}"}
listeners:
  - {name: db, address: %q, protocol: tcp, upstream: pg}
upstreams:
  - name: pg
    balance: round_robin
    health: {interval: 200ms, timeout: 200ms, fall: 2, rise: 1}
    targets: ["tcp://%s", "tcp://%s", "tcp://%s"]
`, addr, a, dead, b))

	// Before the health check notices, connections that land on the dead target fail over.
	seen := map[string]int{}
	for range 9 {
		seen[greeting(t, addr)]++
	}
	if seen["a"] == 0 || seen["b"] == 0 || seen["a"]+seen["b"] != 9 {
		t.Fatalf("backends = %v: want all 9 connections served by a and b", seen)
	}
	// The active check marks the dead target.
	waitState(t, p.Admin, "pg", "tcp://"+dead, "unhealthy", 5*time.Second)
	for range 4 {
		seen[greeting(t, addr)]++
	}
	// Connections end on aya's side just after the client closes: wait for the gauge.
	var m string
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m = scrape(t, p.Admin, ""); strings.Contains(m, `aya_l4_connections_active{listener="db",protocol="tcp"} 0`) {
			break
		}
	}
	for _, want := range []string{
		`aya_l4_connections_total{listener="db",protocol="tcp",target="tcp://` + a + `",upstream="pg"}`,
		`aya_l4_bytes_total{direction="in",listener="db",target="tcp://` + b + `",upstream="pg"}`,
		`aya_l4_connect_failures_total{listener="db",target="tcp://` + dead + `",upstream="pg"}`,
		`aya_l4_connection_duration_seconds_count{listener="db",protocol="tcp",target="tcp://` + a + `",upstream="pg"}`,
		`aya_l4_connections_active{listener="db",protocol="tcp"} 0`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

func TestL4ProxyProtocolV2(t *testing.T) {
	backend := tcpBackend(t, func(c net.Conn, br *bufio.Reader) string {
		h, err := proxyproto.Read(br)
		if err != nil {
			return "no PROXY header: " + err.Error()
		}
		return fmt.Sprintf("v%d %s", h.Version, h.SourceAddr)
	})
	addr := freePort(t)
	startAya(t, fmt.Sprintf(`
admin: {address: "{{ADMIN}}"}
listeners:
  - {name: db, address: %q, protocol: tcp, upstream: pg, proxy_protocol: {send: v2}}
upstreams:
  - {name: pg, targets: ["tcp://%s"]}
`, addr, backend))
	c := dialL4(t, addr)
	got := c.line()
	if want := "v2 " + c.c.LocalAddr().String(); got != want {
		t.Errorf("backend saw %q, want %q", got, want)
	}
	c.echo("after the header")
}

func TestL4SNIPassthrough(t *testing.T) {
	roots := x509.NewCertPool()
	tlsBackend := func(host string) string {
		cert, certPEM, _, err := demo.SelfSigned(host)
		if err != nil {
			t.Fatal(err)
		}
		roots.AppendCertsFromPEM(certPEM)
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					c.SetDeadline(time.Now().Add(10 * time.Second))
					io.WriteString(c, "served by "+host+"\n")
				}()
			}
		}()
		return ln.Addr().String()
	}
	a, b := tlsBackend("a.example"), tlsBackend("b.example")
	addr := freePort(t)
	startAya(t, fmt.Sprintf(`
admin: {address: "{{ADMIN}}"}
listeners:
  - name: tls
    address: %q
    protocol: tcp
    sni: {"a.example": ua, "*.b.example": ub, "b.example": ub}
upstreams:
  - {name: ua, targets: ["tcp://%s"]}
  - {name: ub, targets: ["tcp://%s"]}
`, addr, a, b))
	for _, tc := range []struct{ sni, want string }{
		{"a.example", "served by a.example"},
		{"b.example", "served by b.example"},
		{"a.example", "served by a.example"},
	} {
		// The client verifies the backend's certificate: aya did not terminate TLS.
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, &tls.Config{ServerName: tc.sni, RootCAs: roots})
		if err != nil {
			t.Fatalf("%s: %v", tc.sni, err)
		}
		line, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if got := strings.TrimSpace(line); got != tc.want {
			t.Errorf("SNI %s: %q, want %q", tc.sni, got, tc.want)
		}
	}
	if c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, &tls.Config{ServerName: "c.example", RootCAs: roots}); err == nil {
		c.Close()
		t.Error("a server name with no upstream got through")
	}
}

// dnsServer answers every A query with ip from a free loopback UDP port.
func dnsServer(t *testing.T, ip string) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(r)
		m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: r.Question[0].Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: net.ParseIP(ip)})
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String()
}

// lookupA asks addr for db.example's A record from a new socket (a new flow).
func lookupA(addr string, timeout time.Duration) (string, error) {
	c := &dns.Client{Net: "udp", Timeout: timeout}
	m := new(dns.Msg)
	m.SetQuestion("db.example.", dns.TypeA)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return "", err
	}
	if len(r.Answer) != 1 {
		return "", fmt.Errorf("answer = %v", r.Answer)
	}
	return r.Answer[0].(*dns.A).A.String(), nil
}

// TestL4UDPRefusedEjects: a DNS server that is down answers with ICMP port unreachable;
// aya ejects it on the first refusal and the queries go to the live one.
func TestL4UDPRefusedEjects(t *testing.T) {
	live := dnsServer(t, "10.0.0.1")
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	pc.Close()
	addr := freePort(t)
	p := startAya(t, fmt.Sprintf(`
admin: {address: "{{ADMIN}}"}
listeners:
  - {name: dns, address: %q, protocol: udp, upstream: dns}
upstreams:
  - {name: dns, balance: round_robin, targets: ["udp://%s", "udp://%s"]}
`, addr, dead, live))
	failed := 0
	for range 4 {
		if _, err := lookupA(addr, 300*time.Millisecond); err != nil {
			failed++
		}
	}
	if failed == 0 {
		t.Fatal("no query reached the dead server")
	}
	waitState(t, p.Admin, "dns", "udp://"+dead, "ejected", 3*time.Second)
	for range 6 {
		if ip, err := lookupA(addr, 2*time.Second); err != nil || ip != "10.0.0.1" {
			t.Fatalf("after ejection: %q, %v", ip, err)
		}
	}
}

func TestL4UDPDNS(t *testing.T) {
	a, b := dnsServer(t, "10.0.0.1"), dnsServer(t, "10.0.0.2")
	addr := freePort(t) // a free TCP port number; the UDP one is free too on a quiet loopback
	startAya(t, fmt.Sprintf(`
admin: {address: "{{ADMIN}}"}
listeners:
  - {name: dns, address: %q, protocol: udp, upstream: dns, timeouts: {idle: 2s}}
upstreams:
  - {name: dns, balance: round_robin, targets: ["udp://%s", "udp://%s"]}
`, addr, a, b))
	seen := map[string]int{}
	for range 8 {
		ip, err := lookupA(addr, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		seen[ip]++
	}
	if seen["10.0.0.1"] != 4 || seen["10.0.0.2"] != 4 {
		t.Errorf("answers = %v, want 4 from each DNS server", seen)
	}
}

const l4ReloadConfig = `
admin: {address: "{{ADMIN}}"}
listeners:
  - {name: db, address: %q, protocol: tcp, upstream: %s, timeouts: {idle: %s}}
upstreams:
  - {name: one, targets: ["tcp://%s"]}
  - {name: two, targets: ["tcp://%s"]}
`

func TestL4ReloadDrains(t *testing.T) {
	one, two := tcpBackend(t, named("one")), tcpBackend(t, named("two"))
	addr := freePort(t)
	p := startAya(t, fmt.Sprintf(l4ReloadConfig, addr, "one", "60s", one, two))
	old := dialL4(t, addr)
	if got := old.line(); got != "one" {
		t.Fatalf("first connection reached %q", got)
	}
	// A changed listener (new upstream, new idle timeout) is rebound; the open connection
	// stays on the old one's drain.
	p.rewrite(fmt.Sprintf(l4ReloadConfig, addr, "two", "30s", one, two))
	if !p.waitOutput("config reloaded", 5*time.Second) {
		t.Fatal("no reload")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if got := greeting(t, addr); got == "two" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("new connections still reach the old upstream")
		}
		time.Sleep(50 * time.Millisecond)
	}
	old.echo("still served after the reload")
	old.echo("and again")
}
