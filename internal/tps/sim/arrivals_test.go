package sim

import (
	"math"
	"testing"
	"time"
)

func TestArrivalsFollowRates(t *testing.T) {
	d, err := NewDemand([]string{"a", "b", "c"}, []DemandRow{
		{0, "a", 1000}, {0, "b", 250}, {0, "c", 0},
		{20 * time.Second, "a", 0}, {20 * time.Second, "c", 500},
		{30 * time.Second, "b", 0},
	})
	if err != nil {
		t.Fatal(err)
	}
	a := newArrivals(d, 40*time.Second, 1)
	var counts [3][4]int // per service, per 10 s
	last := time.Duration(-1)
	for {
		at, svc, ok := a.next()
		if !ok {
			break
		}
		if at < last || at >= 40*time.Second {
			t.Fatalf("arrival at %v after %v (end 40s)", at, last)
		}
		last = at
		counts[svc][at/(10*time.Second)]++
	}
	want := [3][4]float64{{10000, 10000, 0, 0}, {2500, 2500, 2500, 0}, {0, 0, 5000, 5000}}
	for s := range want {
		for w := range want[s] {
			got, exp := float64(counts[s][w]), want[s][w]
			// Poisson: 5 standard deviations, or exactly 0 where the rate is 0.
			if math.Abs(got-exp) > 5*math.Sqrt(exp) || (exp == 0 && got != 0) {
				t.Errorf("service %d, window %d: %v arrivals, want about %v", s, w, got, exp)
			}
		}
	}
}

func TestArrivalsDeterministic(t *testing.T) {
	d, _ := NewDemand([]string{"a", "b"}, []DemandRow{{0, "a", 300}, {0, "b", 200}})
	run := func(seed uint64) (sum time.Duration, n int) {
		a := newArrivals(d, 5*time.Second, seed)
		for {
			at, svc, ok := a.next()
			if !ok {
				return sum, n
			}
			sum += at * time.Duration(svc+1)
			n++
		}
	}
	s1, n1 := run(7)
	s2, n2 := run(7)
	s3, _ := run(8)
	if s1 != s2 || n1 != n2 {
		t.Error("same seed, different arrivals")
	}
	if s1 == s3 {
		t.Error("different seeds, same arrivals")
	}
}

func BenchmarkArrivals(b *testing.B) {
	b.ReportAllocs()
	d, _ := NewDemand([]string{"a", "b", "c", "d", "e", "f"}, []DemandRow{
		{0, "a", 300}, {0, "b", 400}, {0, "c", 200}, {0, "d", 300}, {0, "e", 200}, {0, "f", 200},
	})
	a := newArrivals(d, time.Duration(math.MaxInt64), 1)
	for b.Loop() {
		a.next()
	}
}
