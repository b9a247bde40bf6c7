package l4

import (
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"

	"aya/internal/upstream"
)

// dnsServer answers every A query with ip; it returns its address.
func dnsServer(t testing.TB, ip string) string {
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

func startUDP(t testing.TB, p *UDP) string {
	t.Helper()
	pc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	go p.Serve(pc)
	t.Cleanup(func() { p.Shutdown(ctxDone()) })
	return pc.LocalAddr().String()
}

// query asks addr for name's A record from a new client socket (a new flow) and returns it.
func query(t testing.TB, addr string) (string, error) {
	t.Helper()
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	m := new(dns.Msg)
	m.SetQuestion("db.example.", dns.TypeA)
	r, _, err := c.Exchange(m, addr)
	if err != nil {
		return "", err
	}
	if len(r.Answer) != 1 {
		t.Fatalf("answer = %v", r.Answer)
	}
	return r.Answer[0].(*dns.A).A.String(), nil
}

func TestUDPDNSBalanced(t *testing.T) {
	a, b := dnsServer(t, "10.0.0.1"), dnsServer(t, "10.0.0.2")
	pool := newTestPool(t, "round_robin", a, b)
	p := NewUDP(UDPConfig{Listener: "dns", Upstream: "dns", Idle: time.Second}, resolver(map[string]Pool{"dns": pool}), NewMetrics(), discard())
	addr := startUDP(t, p)
	seen := map[string]int{}
	for range 6 {
		ip, err := query(t, addr)
		if err != nil {
			t.Fatal(err)
		}
		seen[ip]++
	}
	if seen["10.0.0.1"] != 3 || seen["10.0.0.2"] != 3 {
		t.Errorf("answers = %v, want 3 from each server", seen)
	}
	if got := pool.outcomesOf(a); len(got) == 0 || got[0] != upstream.OK {
		t.Errorf("outcomes of a = %v, want OK", got)
	}
}

func TestUDPFlowsIdleOut(t *testing.T) {
	pool := newTestPool(t, "round_robin", dnsServer(t, "10.0.0.1"))
	p := NewUDP(UDPConfig{Listener: "dns", Upstream: "dns", Idle: 150 * time.Millisecond}, resolver(map[string]Pool{"dns": pool}), NewMetrics(), discard())
	addr := startUDP(t, p)
	if _, err := query(t, addr); err != nil {
		t.Fatal(err)
	}
	if p.Active() != 1 {
		t.Fatalf("flows = %d, want 1", p.Active())
	}
	deadline := time.Now().Add(3 * time.Second)
	for p.Active() != 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if p.Active() != 0 {
		t.Error("idle flow still open")
	}
}

func TestUDPRefusedIsAFailure(t *testing.T) {
	// A UDP port nobody reads: the kernel answers datagrams with ICMP port unreachable.
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := pc.LocalAddr().String()
	pc.Close()
	pool := newTestPool(t, "round_robin", dead)
	p := NewUDP(UDPConfig{Listener: "dns", Upstream: "dns", Idle: 5 * time.Second}, resolver(map[string]Pool{"dns": pool}), NewMetrics(), discard())
	addr := startUDP(t, p)
	if _, err := query(t, addr); err == nil {
		t.Fatal("a dead server answered")
	}
	deadline := time.Now().Add(3 * time.Second)
	for len(pool.outcomesOf(dead)) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := pool.outcomesOf(dead); len(got) != 1 || got[0] != upstream.ConnectFailure {
		t.Errorf("outcomes = %v, want one connect failure", got)
	}
	if p.Active() != 0 {
		t.Error("the refused flow stayed open")
	}
}

func BenchmarkUDPDatagram(b *testing.B) {
	pool := newTestPool(b, "round_robin", dnsServer(b, "10.0.0.1"))
	p := NewUDP(UDPConfig{Listener: "dns", Upstream: "dns"}, resolver(map[string]Pool{"dns": pool}), NewMetrics(), discard())
	addr := startUDP(b, p)
	c := &dns.Client{Net: "udp", Timeout: time.Second}
	conn, err := c.Dial(addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	m := new(dns.Msg)
	m.SetQuestion("db.example.", dns.TypeA)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := c.ExchangeWithConn(m, conn); err != nil {
			b.Fatal(err)
		}
	}
}
