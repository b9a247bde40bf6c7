package h1

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"aya/internal/httpx"
)

func TestPoolMaxIdle(t *testing.T) {
	closed := make(chan struct{}, 10)
	up := newRawUpstream(t, func(c net.Conn) {
		answerEach(helloReply)(c)
		closed <- struct{}{}
	})
	c := newTestClient(up.addr())
	c.MaxIdle = 2
	defer c.Close()
	// Five exchanges open at once need five connections.
	resps := make([]*httpx.Response, 5)
	for i := range resps {
		resps[i] = &httpx.Response{}
		if err := c.Do(context.Background(), newGetReq("/"), resps[i]); err != nil {
			t.Fatal(err)
		}
	}
	if c.ActiveConns() != 5 || c.IdleConns() != 0 {
		t.Fatalf("active=%d idle=%d, want 5 and 0", c.ActiveConns(), c.IdleConns())
	}
	for _, r := range resps {
		io.ReadAll(r.Body)
		r.Body.Close()
	}
	if c.ActiveConns() != 0 || c.IdleConns() != 2 {
		t.Fatalf("active=%d idle=%d, want 0 and 2", c.ActiveConns(), c.IdleConns())
	}
	for range 3 {
		select {
		case <-closed:
		case <-time.After(2 * time.Second):
			t.Fatal("the connections beyond MaxIdle were not closed")
		}
	}
	clientDo(t, c, newGetReq("/"))
	clientDo(t, c, newGetReq("/"))
	if n := up.accepted.Load(); n != 5 {
		t.Errorf("accepted %d connections, want 5 (the kept ones reused)", n)
	}
}

func TestPoolNoIdle(t *testing.T) {
	up := newRawUpstream(t, answerEach(helloReply))
	c := newTestClient(up.addr())
	c.MaxIdle = -1
	defer c.Close()
	clientDo(t, c, newGetReq("/"))
	clientDo(t, c, newGetReq("/"))
	if n := up.accepted.Load(); n != 2 || c.IdleConns() != 0 {
		t.Errorf("accepted=%d idle=%d, want 2 and 0", n, c.IdleConns())
	}
}

func TestPoolIdleTimeout(t *testing.T) {
	gone := make(chan struct{}, 2)
	up := newRawUpstream(t, func(c net.Conn) {
		answerEach(helloReply)(c)
		gone <- struct{}{}
	})
	c := newTestClient(up.addr())
	c.IdleTimeout = 100 * time.Millisecond
	defer c.Close()
	start := time.Now()
	clientDo(t, c, newGetReq("/"))
	if c.IdleConns() != 1 {
		t.Fatalf("idle = %d", c.IdleConns())
	}
	select {
	case <-gone:
	case <-time.After(2 * time.Second):
		t.Fatal("the janitor did not close the idle connection")
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("closed after %v, before the idle timeout", d)
	}
	if c.IdleConns() != 0 {
		t.Errorf("idle = %d after expiry", c.IdleConns())
	}
	// The janitor re-arms for the next idle connection.
	clientDo(t, c, newGetReq("/"))
	waitUntil(t, "second expiry", func() bool { return c.IdleConns() == 0 })
	if n := up.accepted.Load(); n != 2 {
		t.Errorf("accepted = %d, want 2", n)
	}
}

// TestPoolGetSkipsExpired checks expiry on reuse, independent of the janitor's timing.
func TestPoolGetSkipsExpired(t *testing.T) {
	c := &Client{}
	c.once.Do(c.setup)
	p := &connPool{maxIdle: 4, idleTimeout: time.Minute}
	now := time.Now()
	var peers []net.Conn
	for range 3 {
		a, b := net.Pipe()
		peers = append(peers, b)
		p.track()
		p.put(c.newClientConn(a), now)
	}
	defer p.close()
	if cc := p.get(now.Add(30 * time.Second)); cc == nil {
		t.Fatal("a fresh connection was not handed out")
	}
	if cc := p.get(now.Add(2 * time.Minute)); cc != nil {
		t.Fatal("an expired connection was handed out")
	}
	if p.nidle.Load() != 0 || len(p.idle) != 0 {
		t.Fatalf("idle = %d after expiry", p.nidle.Load())
	}
	// The expired ones were closed: their peers read EOF.
	for _, b := range peers[:2] {
		b.SetReadDeadline(time.Now().Add(time.Second))
		if _, err := b.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("peer read %v, want EOF", err)
		}
	}
}

func TestPoolLIFO(t *testing.T) {
	c := &Client{}
	c.once.Do(c.setup)
	p := &connPool{maxIdle: 2, idleTimeout: time.Minute}
	defer p.close()
	now := time.Now()
	ccs := make([]*clientConn, 3)
	for i := range ccs {
		a, _ := net.Pipe()
		ccs[i] = c.newClientConn(a)
		p.track()
	}
	for _, cc := range ccs {
		p.put(cc, now)
	}
	// ccs[0] was evicted to make room; the newest comes out first.
	if got := p.get(now); got != ccs[2] {
		t.Error("get did not return the newest connection")
	}
	if got := p.get(now); got != ccs[1] {
		t.Error("second get did not return the next newest")
	}
	if got := p.get(now); got != nil {
		t.Error("the evicted connection was kept")
	}
}

func TestClientProbe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c := &Client{}
	c.once.Do(c.setup)
	dial := func() (*clientConn, net.Conn) {
		a, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		b, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		return c.newClientConn(a), b
	}

	quiet, peer := dial()
	defer peer.Close()
	defer quiet.closeConn()
	if !quiet.alive(time.Now()) {
		t.Error("an open, quiet connection probed dead")
	}

	closed, peer2 := dial()
	defer closed.closeConn()
	peer2.Close()
	waitUntil(t, "probe to see the close", func() bool { return !closed.alive(time.Now()) })

	chatty, peer3 := dial()
	defer peer3.Close()
	defer chatty.closeConn()
	io.WriteString(peer3, "HTTP/1.1 408 Request Timeout\r\n\r\n")
	waitUntil(t, "probe to see unsolicited bytes", func() bool { return !chatty.alive(time.Now()) })
}

// TestClientProbeAvoidsDeadConn: a connection the upstream closed while idle is found by the
// probe and never written to.
func TestClientProbeAvoidsDeadConn(t *testing.T) {
	requests := make(chan string, 10)
	up := newRawUpstream(t, answerEach(func(req *http.Request, body []byte) (string, bool) {
		requests <- req.URL.Path
		r, _ := helloReply(req, body)
		return r, false // close after answering, without saying so
	}))
	c := newTestClient(up.addr())
	c.probeAfter = time.Millisecond
	defer c.Close()
	clientDo(t, c, newGetReq("/1"))
	time.Sleep(50 * time.Millisecond)
	clientDo(t, c, newGetReq("/2"))
	if n := up.accepted.Load(); n != 2 || len(requests) != 2 {
		t.Errorf("accepted=%d requests=%d, want 2 and 2", n, len(requests))
	}
}
