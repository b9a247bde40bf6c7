package proxy

import (
	"hash/fnv"
	"strings"
	"sync/atomic"
	"time"

	"aya/internal/httpx"
)

// Fault is a route's fault injection: a delay before the request goes on, and an abort that
// answers with Status instead of sending it upstream (Envoy's fault filter). Percentages are
// of the route's requests, from 0 to 100.
type Fault struct {
	Route        string // named in the abort's message
	Delay        time.Duration
	DelayPercent float64
	AbortStatus  int // 0: no abort
	AbortPercent float64
	// Header triggers the faults whatever the percentages; its value may name "delay" and/or
	// "abort", else every configured fault applies. It is removed before the request goes on.
	Header string
	// Seed starts the route's random sequence; 0: a hash of Route.
	Seed uint64
}

// faultHandler injects f's faults in front of next.
type faultHandler struct {
	f    Fault
	msg  string
	next httpx.Handler
	// rng is a counter stepped by a golden-ratio increment and mixed (SplitMix64): the route's
	// own random sequence, lock-free, with no global random state.
	rng atomic.Uint64
}

// NewFault returns a handler that injects f's faults into requests before next serves them.
func NewFault(f Fault, next httpx.Handler) httpx.Handler {
	h := &faultHandler{f: f, next: next, msg: "fault injected by route " + f.Route}
	seed := f.Seed
	if seed == 0 {
		sum := fnv.New64a()
		sum.Write([]byte(f.Route))
		seed = sum.Sum64()
	}
	h.rng.Store(seed)
	return h
}

// roll returns a uniform number in [0, 100).
func (h *faultHandler) roll() float64 {
	z := h.rng.Add(0x9e3779b97f4a7c15)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	z ^= z >> 31
	return float64(z>>11) / (1 << 53) * 100
}

func (h *faultHandler) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	f := &h.f
	var delay, abort bool
	if f.Header != "" {
		if v, ok := r.Header.Lookup(f.Header); ok {
			delay, abort = names(v, "delay"), names(v, "abort")
			if !delay && !abort {
				delay, abort = true, true
			}
			r.Header.Del(f.Header)
		}
	}
	delay = f.Delay > 0 && (delay || f.DelayPercent > 0 && h.roll() < f.DelayPercent)
	abort = f.AbortStatus > 0 && (abort || f.AbortPercent > 0 && h.roll() < f.AbortPercent)
	if delay {
		if err := sleep(r.Context(), f.Delay); err != nil {
			writeError(w, r, 499, "client closed the request during an injected delay", 0)
			return
		}
	}
	if abort {
		writeError(w, r, f.AbortStatus, h.msg, time.Second)
		return
	}
	h.next.ServeHTTPX(w, r)
}

// names reports whether the comma-separated list v holds word.
func names(v, word string) bool {
	for part := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(strings.TrimSpace(part), word) {
			return true
		}
	}
	return false
}
