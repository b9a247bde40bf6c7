package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// soakRSS holds a steady load through aya for dur — rate non-streamed calls per second and
// streams concurrent slow streams, each reopened when it ends — and samples aya's RSS every
// interval. After a warm-up (a fifth of the soak, at least two intervals, at most a minute —
// the streams' buffers and the pools fill first) memory must stay
// within ±10% of its first warm sample: a leak shows as a steady climb past that band.
func soakRSS(c *http.Client, t targets, pid int, dur, every time.Duration, rate, streams int) {
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var calls, failed atomic.Int64
	var wg sync.WaitGroup
	slow := call(t.aya, t.ayaKey, t.slowModel, true, 40)
	for range streams {
		wg.Go(func() {
			for ctx.Err() == nil {
				if ok := stream(c, slow); !ok && ctx.Err() == nil {
					failed.Add(1)
				}
				calls.Add(1)
			}
		})
	}
	fast := call(t.aya, t.ayaKey, t.ayaModel, false, 16)
	wg.Go(func() {
		for ctx.Err() == nil {
			lat, errs := run(c, fast, rate, min(time.Second, time.Until(deadline(ctx))))
			calls.Add(int64(len(lat) + errs))
			failed.Add(int64(errs))
		}
	})

	warm := min(max(dur/5, 2*every), time.Minute)
	start := time.Now()
	fmt.Printf("soak: %v at %d non-streamed calls/s + %d concurrent streams; RSS every %v, warm-up %v\n", dur, rate, streams, every, warm)
	var samples []int64
	var base int64 // the first sample after the warm-up
	inBand := true
	tick := time.NewTicker(every)
	defer tick.Stop()
	last := start
	for done := false; !done; {
		select {
		case <-tick.C:
		case <-ctx.Done():
			done = true
			if time.Since(last) < every/2 {
				continue // the last tick just sampled
			}
		}
		last = time.Now()
		v := rss(pid)
		samples = append(samples, v)
		since := time.Since(start).Round(time.Second)
		note := ""
		switch {
		case since < warm:
			note = " (warm-up)"
		case base == 0:
			base = v
			note = " (reference)"
		case v > base*11/10 || v < base*9/10:
			inBand = false
			note = " (outside ±10%)"
		}
		fmt.Printf("  t=%v RSS %d MB%s\n", since, v>>20, note)
	}
	wg.Wait()
	lo, hi := samples[0], samples[0]
	for _, v := range samples {
		lo, hi = min(lo, v), max(hi, v)
	}
	verdict := "stayed within ±10% of the reference after warm-up"
	if !inBand {
		verdict = "LEFT the ±10% band after warm-up"
	}
	if base == 0 {
		verdict = "no sample after warm-up: soak longer than the sampling interval"
	}
	fmt.Printf("soak: %d calls, %d failed; RSS first %d MB, last %d MB, min %d MB, max %d MB; %s\n",
		calls.Load(), failed.Load(), samples[0]>>20, samples[len(samples)-1]>>20, lo>>20, hi>>20, verdict)
}

func deadline(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}
