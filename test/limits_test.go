package test

import (
	"fmt"
	"io"
	"net"
	"testing"
	"time"
)

// TestConnectionCaps checks max_conns_per_ip: connections above the cap are closed at once,
// and a slot frees when a connection closes.
func TestConnectionCaps(t *testing.T) {
	b := backends(t, 1)
	web := freePort(t)
	startAya(t, fmt.Sprintf(`
listeners: [{name: web, address: "%s", limits: {max_conns_per_ip: 2}}]
upstreams: [{name: u, targets: [{url: "http://%s"}]}]
routes: [{name: r, match: {path: "/*"}, upstream: u}]
admin: {address: "{{ADMIN}}"}
`, web, b[0]))
	open := func() net.Conn {
		c, err := net.Dial("tcp", web)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	alive := func(c net.Conn) bool {
		c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := io.WriteString(c, "GET /x HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return false
		}
		buf := make([]byte, 12)
		_, err := io.ReadFull(c, buf)
		return err == nil && string(buf) == "HTTP/1.1 200"
	}
	c1, c2 := open(), open()
	defer c1.Close()
	defer c2.Close()
	if !alive(c1) || !alive(c2) {
		t.Fatal("connections under the cap refused")
	}
	c3 := open()
	if alive(c3) {
		t.Fatal("third connection from one IP served with max_conns_per_ip 2")
	}
	c3.Close()
	c1.Close()
	deadline := time.Now().Add(3 * time.Second)
	for {
		c4 := open()
		ok := alive(c4)
		c4.Close()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("slot not freed after a connection closed")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestTrustedProxiesDecideClientIP checks that X-Forwarded-For is believed only from trusted
// peers: ip_hash follows the forwarded client from a trusted peer, and ignores it otherwise.
func TestTrustedProxiesDecideClientIP(t *testing.T) {
	b := backends(t, 4)
	trusted, untrusted := freePort(t), freePort(t)
	startAya(t, fmt.Sprintf(`
listeners:
  - {name: trusted, address: "%s", trusted_proxies: ["127.0.0.0/8"]}
  - {name: untrusted, address: "%s"}
upstreams: [{name: u, balance: ip_hash, targets: [{url: "http://%s"}, {url: "http://%s"}, {url: "http://%s"}, {url: "http://%s"}]}]
routes: [{name: r, match: {path: "/*"}, upstream: u}]
admin: {address: "{{ADMIN}}"}
`, trusted, untrusted, b[0], b[1], b[2], b[3]))
	c := client()
	spread := func(addr string) int {
		seen := map[string]bool{}
		for i := 0; i < 40; i++ {
			req := mustReq(t, "GET", "http://"+addr+"/", nil)
			req.Header.Set("X-Forwarded-For", fmt.Sprintf("203.0.113.%d", i))
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			seen[resp.Header.Get("X-Demo-Backend")] = true
		}
		return len(seen)
	}
	if n := spread(trusted); n < 2 {
		t.Errorf("trusted peer: 40 forwarded clients all hashed to %d backend(s)", n)
	}
	if n := spread(untrusted); n != 1 {
		t.Errorf("untrusted peer: forged X-Forwarded-For moved the client across %d backends", n)
	}
}

// TestReloadKeepsPools checks that a reload which leaves an upstream unchanged hands its pool
// over: the next request reuses the same upstream keep-alive connection.
func TestReloadKeepsPools(t *testing.T) {
	b := backends(t, 1)
	web := freePort(t)
	cfg := `
listeners: [{name: web, address: "%s"}]
upstreams: [{name: u, targets: [{url: "http://%s"}]}]
routes: [{name: r, match: {path: "/*"}, response_headers: {set: {X-Gen: "%d"}}, upstream: u}]
admin: {address: "{{ADMIN}}"}
`
	p := startAya(t, fmt.Sprintf(cfg, web, b[0], 1))
	c := client()
	remote := func() (string, string) {
		var e struct {
			RemoteAddr string `json:"remote_addr"`
		}
		resp, err := c.Get("http://" + web + "/r")
		if err != nil {
			t.Fatal(err)
		}
		gen := resp.Header.Get("X-Gen")
		jsonDecode(resp, &e)
		return e.RemoteAddr, gen
	}
	before, _ := remote()
	p.rewrite(fmt.Sprintf(cfg, web, b[0], 2))
	deadline := time.Now().Add(5 * time.Second)
	for {
		after, gen := remote()
		if gen == "2" {
			if after != before {
				t.Fatalf("upstream connection not carried over the reload: %s then %s", before, after)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("reload not applied")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
