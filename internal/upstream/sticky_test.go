package upstream

import (
	"strings"
	"testing"
	"time"

	"aya/internal/config"
	"aya/internal/httpx"
)

func TestStickyCookie(t *testing.T) {
	reg := NewRegistry(quiet)
	defer reg.Close()
	u := config.Upstream{Name: "u", PanicThreshold: 0.5, Sticky: &config.Sticky{Cookie: &config.StickyCookie{
		Name: "aya_s", TTL: config.Duration(time.Hour), Path: "/", HTTPOnly: true, SameSite: "Lax"}}}
	p := poolOf(t, reg, u, 3)
	r := &httpx.Request{}
	first := p.PickSticky(r)
	set := p.StickyCookie(r, first)
	if !strings.HasPrefix(set, "aya_s=") || !strings.Contains(set, "; Path=/; Max-Age=3600; HttpOnly; SameSite=Lax") || strings.Contains(set, first.Name) {
		t.Fatalf("Set-Cookie %q", set)
	}
	withCookie := &httpx.Request{Header: httpx.Header{{Name: "Cookie", Value: "other=1; " + strings.Split(set, ";")[0]}}}
	for range 100 {
		if got := p.PickSticky(withCookie); got != first {
			t.Fatalf("sticky request went to %s, not %s", got.Name, first.Name)
		}
	}
	if c := p.StickyCookie(withCookie, first); c != "" {
		t.Fatalf("cookie reissued although unchanged: %q", c)
	}
	first.State.down.Store(true)
	p.refresh()
	moved := p.PickSticky(withCookie)
	if moved == first || p.StickyCookie(withCookie, moved) == "" {
		t.Fatalf("did not move off a down target, or did not reissue the cookie")
	}
	if got := p.PickSticky(&httpx.Request{Header: httpx.Header{{Name: "Cookie", Value: "aya_s=forged"}}}); got == nil {
		t.Fatal("an unknown cookie value got no target")
	}
}

func TestDrain(t *testing.T) {
	reg := NewRegistry(quiet)
	defer reg.Close()
	p := poolOf(t, reg, config.Upstream{Name: "u", PanicThreshold: 0.5}, 3)
	if !p.SetDraining("t1", true) || p.SetDraining("nope", true) {
		t.Fatal("SetDraining found the wrong targets")
	}
	if availNames(p) != "t0,t2" || p.Targets()[1].State.Status().State != StateDraining {
		t.Fatalf("avail %s", availNames(p))
	}
	// One of the two that remain goes down: 1 of 2 is not below 50%, so no panic (a draining
	// target does not count as lost capacity), and the draining one stays out.
	p.Targets()[2].State.down.Store(true)
	p.refresh()
	if availNames(p) != "t0" || p.Panicking() {
		t.Fatalf("avail %s panic %v", availNames(p), p.Panicking())
	}
	p.Targets()[0].State.down.Store(true)
	p.refresh()
	if availNames(p) != "t0,t2" || !p.Panicking() {
		t.Fatalf("panic set %s", availNames(p))
	}
	p.SetDraining("t1", false) // 1 of 3 usable: panic over all
	if availNames(p) != "t0,t1,t2" {
		t.Fatalf("undrained: %s", availNames(p))
	}
}
