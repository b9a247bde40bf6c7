package upstream

import (
	"testing"
	"time"

	"aya/internal/config"
)

func TestSlowStart(t *testing.T) {
	reg := NewRegistry(quiet)
	defer reg.Close()
	u := config.Upstream{Name: "u", Balance: "round_robin", SlowStart: config.Duration(time.Hour)}
	p := poolOf(t, reg, u, 2)
	share := func() float64 {
		n := 0
		for range 10000 {
			if p.Pick(nil) == p.Targets()[1] {
				n++
			}
		}
		return float64(n) / 10000
	}
	if r, s := p.view.Load().ramping, share(); r || s != 0.5 {
		t.Fatalf("targets of the first config ramp up: %v %v", r, s)
	}
	p.Targets()[1].State.down.Store(true)
	p.refresh()
	p.Targets()[1].State.down.Store(false)
	p.refresh()
	if s := share(); s > 0.1 || s < 0.02 {
		t.Fatalf("a recovered target at the start of its ramp got %.3f of requests, want about 5%%", s)
	}
	now := nanotime()
	p.Targets()[1].State.usableSince.Store(now - int64(45*time.Minute))
	if f := p.rampFactor(p.Targets()[1], now); f < 0.74 || f > 0.76 {
		t.Fatalf("ramp factor three quarters in: %v", f)
	}
	p.Targets()[1].State.usableSince.Store(now - int64(2*time.Hour))
	p.refresh()
	if p.view.Load().ramping || share() != 0.5 {
		t.Fatal("still ramping after the window")
	}
	if settingsOf(&config.Upstream{Balance: "maglev", SlowStart: config.Duration(time.Hour)}).slowStart != 0 {
		t.Fatal("slow start on a hashing balancer would move its clients")
	}
}
