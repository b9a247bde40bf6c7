package sim

import (
	"testing"
	"time"
)

func TestUpstreamCountsOverCap(t *testing.T) {
	ms := func(v int) time.Duration { return time.Duration(v) * time.Millisecond }
	cases := []struct {
		name  string
		cap   float64
		sends []time.Duration
		want  []bool // accepted?
	}{
		{"under the cap", 3, []time.Duration{0, ms(100), ms(200)}, []bool{true, true, true}},
		{"fourth in the same second", 3, []time.Duration{0, ms(100), ms(200), ms(999)}, []bool{true, true, true, false}},
		{"the oldest leaves exactly one second later", 3, []time.Duration{0, ms(100), ms(200), ms(1000)}, []bool{true, true, true, true}},
		{"a 429 does not use the window", 2, []time.Duration{0, ms(500), ms(600), ms(1000), ms(1100)}, []bool{true, true, false, true, false}},
		{"sliding, not fixed, windows", 2, []time.Duration{ms(900), ms(950), ms(1050), ms(1900), ms(1950)}, []bool{true, true, false, true, true}},
		{"burst at one instant", 2, []time.Duration{ms(10), ms(10), ms(10)}, []bool{true, true, false}},
		{"fractional cap rounds down", 1.9, []time.Duration{0, 1}, []bool{true, false}},
		{"zero cap refuses all", 0, []time.Duration{0}, []bool{false}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u := NewUpstream(c.cap)
			throttled := 0
			for i, at := range c.sends {
				if got := u.Send(at); got != c.want[i] {
					t.Errorf("send %d at %v: accepted %v, want %v", i, at, got, c.want[i])
				}
				if !c.want[i] {
					throttled++
				}
			}
			if u.Throttled() != throttled || u.Accepted() != len(c.sends)-throttled {
				t.Errorf("accepted %d throttled %d, want %d and %d", u.Accepted(), u.Throttled(), len(c.sends)-throttled, throttled)
			}
		})
	}
}

// TestUpstreamMatchesBruteForce checks the ring against counting every window by hand on a
// dense pattern.
func TestUpstreamMatchesBruteForce(t *testing.T) {
	const capacity = 7
	u := NewUpstream(capacity)
	var accepted []time.Duration
	at := time.Duration(0)
	for i := range 5000 {
		at += time.Duration((i*7919)%260) * time.Millisecond / 2
		inWindow := 0
		for _, a := range accepted {
			if a > at-time.Second {
				inWindow++
			}
		}
		want := inWindow < capacity
		if got := u.Send(at); got != want {
			t.Fatalf("send %d at %v: accepted %v, brute force says %v", i, at, got, want)
		}
		if want {
			accepted = append(accepted, at)
		}
	}
}

func BenchmarkUpstreamSend(b *testing.B) {
	b.ReportAllocs()
	u := NewUpstream(1500)
	for i := 0; b.Loop(); i++ {
		u.Send(time.Duration(i) * 500 * time.Microsecond)
	}
}
