package upstream

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"aya/internal/balance"
	"aya/internal/config"
)

// nopFactory builds targets with a nop transport, counting builds.
func nopFactory(built *int) TargetFactory {
	return func(tc config.Target) (*Target, error) {
		*built++
		return &Target{Name: tc.URL, Balance: balance.NewTarget(tc.URL, tc.Weight), Transport: &nopTransport{}}, nil
	}
}

func names(p *Pool) string {
	var s []string
	for _, t := range p.Targets() {
		s = append(s, t.Name)
	}
	return strings.Join(s, ",")
}

func TestDynamicTargets(t *testing.T) {
	reg := NewRegistry(quiet)
	defer reg.Close()
	u := config.Upstream{Name: "u", Targets: []config.Target{{URL: "http://a:1", Weight: 1}, {URL: "http://b:1", Weight: 1}}}
	built := 0
	p, err := reg.Pool(&u, rr, nopFactory(&built))
	if err != nil {
		t.Fatal(err)
	}
	reg.Activate([]*Pool{p})
	a := p.Targets()[0]
	c, _ := config.NewTarget("http://c:1", 2)
	if err := reg.AddTarget("u", c); err != nil {
		t.Fatal(err)
	}
	if names(p) != "http://a:1,http://b:1,http://c:1" || p.Targets()[0] != a || built != 3 {
		t.Fatalf("after add: %s (built %d)", names(p), built)
	}
	if found, err := reg.RemoveTarget("u", "http://b:1"); !found || err != nil {
		t.Fatalf("remove: %v %v", found, err)
	}
	if names(p) != "http://a:1,http://c:1" || availNames(p) != "http://a:1,http://c:1" {
		t.Fatalf("after remove: %s / %s", names(p), availNames(p))
	}
	if found, _ := reg.RemoveTarget("u", "http://nope:1"); found {
		t.Fatal("removed a target that is not there")
	}
	// A reload builds a new pool: the admin's changes stay.
	p2, err := reg.Pool(&u, rr, nopFactory(&built))
	if err != nil {
		t.Fatal(err)
	}
	reg.Activate([]*Pool{p2})
	if names(p2) != "http://a:1,http://c:1" {
		t.Fatalf("after reload: %s", names(p2))
	}
	// Targets keep their state across the reload; the added one would slow-start.
	if p2.Targets()[1].State != p.Targets()[1].State || p2.Targets()[1].State.wasUsable.Load() || p2.Targets()[0].State != a.State {
		t.Fatal("state not handed over")
	}
	if err := reg.AddTarget("nope", c); err == nil {
		t.Fatal("added to an unknown upstream")
	}
}

// dnsServer answers SRV and A queries from a table the test edits.
type dnsServer struct {
	srv  map[string][]*dns.SRV
	a    map[string][]string
	addr string
}

func startDNS(t *testing.T, d *dnsServer) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.addr = pc.LocalAddr().String()
	s := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		name := q.Question[0].Name
		switch q.Question[0].Qtype {
		case dns.TypeSRV:
			for _, s := range d.srv[name] {
				r := *s
				r.Hdr = dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 1}
				m.Answer = append(m.Answer, &r)
			}
		case dns.TypeA:
			for _, ip := range d.a[name] {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}, A: net.ParseIP(ip)})
			}
		}
		if len(m.Answer) == 0 {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	go s.ActivateAndServe()
	t.Cleanup(func() { s.Shutdown() })
}

func TestDNSLookup(t *testing.T) {
	d := &dnsServer{
		srv: map[string][]*dns.SRV{"app.test.": {
			{Priority: 10, Weight: 5, Port: 9001, Target: "h1.test."},
			{Priority: 20, Weight: 1, Port: 9002, Target: "h2.test."},
		}},
		a: map[string][]string{"h1.test.": {"127.0.0.1"}, "h2.test.": {"127.0.0.2"}, "plain.test.": {"127.0.0.3", "127.0.0.4"}},
	}
	startDNS(t, d)
	ctx := context.Background()
	specs, ttl, err := lookup(ctx, config.DNSDiscovery{Name: "app.test", Type: "SRV", Scheme: "http", Server: d.addr})
	if err != nil {
		t.Fatal(err)
	}
	if len(specs) != 2 || specs[0].URL != "http://127.0.0.1:9001" || specs[0].Weight != 5 || specs[0].Priority != 0 ||
		specs[1].URL != "http://127.0.0.2:9002" || specs[1].Priority != 1 || ttl != time.Second {
		t.Fatalf("SRV: %+v ttl %v", specs, ttl)
	}
	specs, _, err = lookup(ctx, config.DNSDiscovery{Name: "plain.test", Type: "A", Port: 80, Scheme: "h2c", Server: d.addr})
	if err != nil || len(specs) != 2 || specs[1].URL != "h2c://127.0.0.4:80" || specs[1].Protocol != "h2" {
		t.Fatalf("A: %+v %v", specs, err)
	}
	if _, _, err := lookup(ctx, config.DNSDiscovery{Name: "none.test", Type: "A", Port: 80, Scheme: "http", Server: d.addr}); err == nil || !strings.Contains(err.Error(), "NXDOMAIN") {
		t.Fatalf("missing name: %v", err)
	}
}
