package tps_test

import (
	"fmt"
	"time"

	"aya/internal/tps"
)

// A pool on a virtual clock, as the simulator drives it: at each time, tick if due, collect
// the queue's outcomes, then offer the arrivals; the next time is the earliest of the next
// tick, the next arrival and NextEvent.
func ExamplePool_virtualClock() {
	alloc, _ := tps.NewAllocator("waterfill")
	pool, _ := tps.NewPool(tps.PoolConfig{
		Name: "partner", Capacity: 10, Tick: time.Second,
		Services: []tps.Service{{Name: "payments", Priority: tps.Critical, Min: 2}, {Name: "reports", Priority: tps.Low}},
	}, alloc)
	name := func(svc int) string { return pool.Config().Services[svc].Name }

	// Both services send 12 requests at 0; the cap is 10 per second less the 2% margin.
	arrivals := make([]int, 24)
	for i := range arrivals {
		arrivals[i] = i % 2
	}
	admitted := map[string]int{}
	var out []tps.Outcome
	nextTick := time.Second
	for now := time.Duration(0); now < 3*time.Second; now = min(nextTick, pool.NextEvent()) {
		if now == nextTick {
			pool.Tick(now)
			nextTick += time.Second
		}
		for _, o := range pool.Advance(now, out[:0]) {
			fmt.Printf("%v: queued %s %s after %v\n", now, name(o.Service), map[bool]string{true: "admitted", false: "rejected"}[o.Admitted], o.At-o.Arrived)
		}
		for _, svc := range arrivals {
			if d, _ := pool.Arrive(svc, now); d == tps.Admitted {
				admitted[name(svc)]++
			}
		}
		arrivals = nil
	}
	fmt.Println("admitted at once:", admitted)
	// At 0 the window takes 9 requests; the rest queue. From the tick at 1 s waterfill gives
	// payments (CRITICAL) nearly all the capacity: its queue drains first, as tokens come;
	// reports (LOW) gets one shared token before its requests reach their 2 s deadline.

	// Output:
	// 1.001s: queued payments admitted after 1.001s
	// 1.001s: queued payments admitted after 1.001s
	// 1.001s: queued payments admitted after 1.001s
	// 1.117152285s: queued payments admitted after 1.117152285s
	// 1.23430457s: queued payments admitted after 1.23430457s
	// 1.351456855s: queued payments admitted after 1.351456855s
	// 1.46860914s: queued payments admitted after 1.46860914s
	// 1.583151289s: queued reports admitted after 1.583151289s
	// 2s: queued reports rejected after 2s
	// 2s: queued reports rejected after 2s
	// 2s: queued reports rejected after 2s
	// 2s: queued reports rejected after 2s
	// 2s: queued reports rejected after 2s
	// 2s: queued reports rejected after 2s
	// 2s: queued reports rejected after 2s
	// admitted at once: map[payments:5 reports:4]
}
