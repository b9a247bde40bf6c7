package upstream

import (
	"context"
	"io"
	"strings"
	"testing"

	"aya/internal/balance"
	"aya/internal/demo"
	"aya/internal/httpx"
)

type nopTransport struct{ closed int }

func (n *nopTransport) Do(context.Context, *httpx.Request, *httpx.Response) error { return nil }
func (n *nopTransport) Close()                                                    { n.closed++ }

func TestPoolPicksItsTargets(t *testing.T) {
	tr := &nopTransport{}
	ts := []*Target{
		{Name: "a", Balance: balance.NewTarget("a", 1), Transport: tr},
		{Name: "b", Balance: balance.NewTarget("b", 1), Transport: tr},
	}
	p := NewPool("u", rr, ts)
	seen := map[string]int{}
	for i := 0; i < 10; i++ {
		seen[p.Pick(&httpx.Request{}).Name]++
	}
	if seen["a"] != 5 || seen["b"] != 5 {
		t.Fatalf("picks %v", seen)
	}
	p.Close()
	if tr.closed != 2 {
		t.Fatalf("close reached %d transports", tr.closed)
	}
	empty := NewPool("e", rr, nil)
	if empty.Pick(&httpx.Request{}) != nil {
		t.Fatal("empty pool picked something")
	}
}

func TestH2TransportCarriesTrailers(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := demo.StartH2C(ctx, "127.0.0.1:0", demo.NewEcho(demo.EchoOptions{Name: "h2"}))
	if err != nil {
		t.Fatal(err)
	}
	tr := NewH2(H2Options{Addr: addr.String()})
	defer tr.Close()
	req := &httpx.Request{Method: "GET", Path: "/trailers", Query: "n=64", Header: httpx.Header{{Name: "Host", Value: "example"}}, Body: httpx.NoBody}
	var resp httpx.Response
	if err := tr.Do(ctx, req, &resp); err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || len(body) != 64 || resp.Status != 200 || resp.Proto != "HTTP/2.0" {
		t.Fatalf("status %d proto %s body %d %v", resp.Status, resp.Proto, len(body), err)
	}
	if resp.Header.Get(demo.BackendHeader) != "h2" {
		t.Fatalf("headers %v", resp.Header)
	}
	if len(resp.Trailer.Get("X-Checksum")) != 64 {
		t.Fatalf("trailers %v", resp.Trailer)
	}

	post := &httpx.Request{Method: "POST", Path: "/upload", Header: httpx.Header{{Name: "Host", Value: "x"}}, Body: strings.NewReader("hello"), ContentLength: 5}
	resp = httpx.Response{}
	if err := tr.Do(ctx, post, &resp); err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(out), `"bytes":5`) {
		t.Fatalf("upload: %s", out)
	}
}

func TestH2TransportResponseHeaderTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, err := demo.StartH2C(ctx, "127.0.0.1:0", demo.NewEcho(demo.EchoOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	tr := NewH2(H2Options{Addr: addr.String(), ResponseHeader: 100_000_000})
	defer tr.Close()
	req := &httpx.Request{Method: "GET", Path: "/delay/2s", Header: httpx.Header{{Name: "Host", Value: "x"}}, Body: httpx.NoBody}
	var resp httpx.Response
	err = tr.Do(ctx, req, &resp)
	var te interface{ Timeout() bool }
	if err == nil || !asTimeout(err, &te) {
		t.Fatalf("want a timeout error, got %v", err)
	}
}

func asTimeout(err error, te *interface{ Timeout() bool }) bool {
	t, ok := err.(interface{ Timeout() bool })
	if ok {
		*te = t
	}
	return ok && t.Timeout()
}
