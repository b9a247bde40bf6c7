package policy

import (
	"testing"

	"aya/internal/httpx"
)

func TestChainOrder(t *testing.T) {
	var order []string
	mw := func(name string) Middleware {
		return func(next httpx.Handler) httpx.Handler {
			return httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
				order = append(order, name)
				next.ServeHTTPX(w, r)
			})
		}
	}
	h := Chain(httpx.HandlerFunc(func(httpx.ResponseWriter, *httpx.Request) { order = append(order, "end") }), mw("a"), mw("b"))
	h.ServeHTTPX(nil, &httpx.Request{})
	if got := len(order); got != 3 || order[0] != "a" || order[1] != "b" || order[2] != "end" {
		t.Fatalf("order = %v, want [a b end]", order)
	}
}

func TestFromGivesOneStatePerRequest(t *testing.T) {
	r := &httpx.Request{}
	s := From(r)
	s.Consumer = &Consumer{Name: "alice", Groups: []string{"paid"}}
	if From(r) != s {
		t.Fatal("From returned a different State for the same request")
	}
	if !From(r).Consumer.InGroup("paid") || From(r).Consumer.InGroup("free") {
		t.Fatal("InGroup is wrong")
	}
	s.Claims = append(s.Claims, httpx.Field{Name: "sub", Value: "u1"})
	if s.Claim("sub") != "u1" || s.Claim("x") != "" {
		t.Fatal("Claim lookup is wrong")
	}
	s.Reset()
	if s.Consumer != nil || len(s.Claims) != 0 {
		t.Fatal("Reset left data behind")
	}
}
