package analytics

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 8191, 8192, 10 * time.Microsecond, time.Millisecond, 3 * time.Millisecond, time.Second, 100 * time.Second} {
		b := bucket(d)
		lo, hi := bounds(b)
		if float64(d) < lo || float64(d) >= hi {
			t.Errorf("%v: bucket %d covers [%v, %v)", d, b, time.Duration(lo), time.Duration(hi))
		}
	}
	if b := bucket(time.Hour); b != nBuckets-1 {
		t.Errorf("an hour lands in bucket %d, want the last", b)
	}
	if b := bucket(-time.Second); b != 0 {
		t.Errorf("a negative duration lands in bucket %d", b)
	}
	prev := -1
	for d := time.Duration(1); d < 200*time.Second; d = d*11/10 + 1 {
		if b := bucket(d); b < prev {
			t.Fatalf("bucket(%v)=%d below bucket of a shorter duration (%d)", d, b, prev)
		} else {
			prev = b
		}
	}
	sum := 0
	for _, n := range fieldMax {
		sum += n
	}
	if sum != textSize {
		t.Fatalf("textSize %d, fields add up to %d", textSize, sum)
	}
}

func TestQuantileAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		draw func() time.Duration
	}{
		{"lognormal around 20ms", func() time.Duration { return time.Duration(math.Exp(rng.NormFloat64()*0.8) * 20e6) }},
		{"uniform 1-5ms", func() time.Duration { return time.Millisecond + time.Duration(rng.Int64N(4e6)) }},
		{"bimodal 1ms/300ms", func() time.Duration {
			if rng.IntN(10) == 0 {
				return 300*time.Millisecond + time.Duration(rng.Int64N(5e6))
			}
			return time.Millisecond + time.Duration(rng.Int64N(1e5))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var h hist
			xs := make([]time.Duration, 20000)
			for i := range xs {
				xs[i] = tc.draw()
				h[bucket(xs[i])]++
			}
			slices.Sort(xs)
			for _, q := range []float64{0.5, 0.95, 0.99} {
				want := xs[int(q*float64(len(xs)))-1]
				got := h.quantile(q, uint64(len(xs)))
				if rel := math.Abs(float64(got-want)) / float64(want); rel > 0.10 {
					t.Errorf("p%v: got %v, want %v (off by %.1f%%)", q*100, got, want, rel*100)
				}
			}
		})
	}
	var empty hist
	if empty.quantile(0.99, 0) != 0 {
		t.Error("empty histogram has a p99")
	}
}

func BenchmarkBucket(b *testing.B) {
	b.ReportAllocs()
	d := 3 * time.Millisecond
	s := 0
	for i := 0; i < b.N; i++ {
		s += bucket(d + time.Duration(i&1023))
	}
	if s < 0 {
		b.Fatal(s)
	}
}
