// Package tps shares a fixed transactions-per-second capacity (a partner API's cap) among the
// services that call it, by priority and demand: allocators divide the capacity each tick, and
// the limiter admits, queues or rejects each request so the upstream never sees more than the
// cap while CRITICAL traffic is never starved.
//
// The same code runs live (behind gateway routes, on the wall clock) and in the simulator
// (internal/tps/sim, on a virtual clock): every time-dependent function takes the current time
// as an argument instead of reading a clock. It must not know about HTTP, config files or the
// gateway.
package tps

import (
	"fmt"
	"strings"
	"time"
)

// Priority orders services; a lower value is more important.
type Priority uint8

// The four priority levels, most important first.
const (
	Critical Priority = iota
	High
	Medium
	Low
	numPriorities
)

// Priorities lists the levels most important first.
var Priorities = [numPriorities]Priority{Critical, High, Medium, Low}

// ParsePriority reads "critical", "high", "medium" or "low" (any case).
func ParsePriority(s string) (Priority, error) {
	switch strings.ToLower(s) {
	case "critical":
		return Critical, nil
	case "high":
		return High, nil
	case "medium":
		return Medium, nil
	case "low":
		return Low, nil
	}
	return 0, fmt.Errorf("priority %q: want critical, high, medium or low", s)
}

func (p Priority) String() string {
	switch p {
	case Critical:
		return "critical"
	case High:
		return "high"
	case Medium:
		return "medium"
	case Low:
		return "low"
	}
	return fmt.Sprintf("priority(%d)", uint8(p))
}

// GoodputWeight is how much one served request of this priority counts in weighted goodput:
// critical 8, high 4, medium 2, low 1.
func (p Priority) GoodputWeight() float64 {
	return float64(uint(8) >> p)
}

// Service is one caller of the shared upstream.
type Service struct {
	Name     string
	Priority Priority
	// Min is a floor in requests per second: the service may always use this much, even
	// before any demand is seen and even when a higher priority wants more.
	Min float64
	// Max is a ceiling in requests per second; 0 means none.
	Max float64
}

// ServiceStats is what happened to one service during the last tick, as rates per second
// (counts divided by the tick length) except Queued.
type ServiceStats struct {
	Demand   float64   // arrivals (admitted, queued or rejected)
	Served   float64   // sent to the upstream
	Rejected float64   // rejected by aya (429 from aya)
	Queued   int       // waiting in the queue at the end of the tick
	Forecast []float64 // forecast demand for the next ticks; nil when no forecaster runs
}

// Observation is everything an allocator sees each tick. Services and Stats are aligned by
// index and keep the same order for the life of a pool.
type Observation struct {
	Now  time.Duration // time since the pool started
	Tick time.Duration
	// Capacity is the effective capacity for the next tick in requests per second: the
	// configured cap lowered by the safety margin, by AIMD after upstream 429s and by the
	// upstream's own rate-limit headers.
	Capacity    float64
	Upstream429 int // 429s the upstream answered during the last tick
	Services    []Service
	Stats       []ServiceStats
}

// Allocator divides the effective capacity among services each tick.
type Allocator interface {
	// Name is the config name: static, proportional, waterfill, aimd or learned.
	Name() string
	// Allocate writes each service's rate in requests per second into out, which has one entry
	// per service. The pool applies Constrain to the result before enforcing it, so an
	// allocator may be approximate, but good ones already respect the constraints. What the
	// rates leave of obs.Capacity is not lost: the pool shares it among all services, the most
	// important waiting request first.
	Allocate(obs *Observation, out []float64)
}
