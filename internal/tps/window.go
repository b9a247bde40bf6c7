package tps

import "time"

// The pool-wide cap is counted in slots of slotWidth over a ring one slot longer than a
// second. An admission at t is allowed only if fewer than limit admissions fall in the slots
// from the one holding t−1s to the one holding t. That span covers the whole sliding second
// (t−1s, t] and up to one slot more, so the count can only overestimate: in no sliding second
// can more than limit admissions happen (the property test checks this on random arrivals).
// The price is at most one slot's worth of admissions per second (0.1% with 1 ms slots), and
// the memory is fixed (4 KB) whatever the capacity.
const (
	slotWidth   = time.Millisecond
	windowSlots = int64(time.Second / slotWidth)
	ringSlots   = windowSlots + 1
)

type window struct {
	counts [ringSlots]uint32
	total  int64 // admissions in the live slots cur−windowSlots … cur
	cur    int64 // slot of the latest time seen
	limit  int64 // admissions allowed per sliding second
}

func slotOf(t time.Duration) int64 { return int64(t / slotWidth) }

// advance moves the window to now, forgetting slots that fell out of it.
func (w *window) advance(now time.Duration) {
	s := slotOf(now)
	if s <= w.cur {
		return
	}
	if s-w.cur >= ringSlots {
		w.counts = [ringSlots]uint32{}
		w.total = 0
	} else {
		for k := w.cur + 1; k <= s; k++ {
			i := k % ringSlots
			w.total -= int64(w.counts[i])
			w.counts[i] = 0
		}
	}
	w.cur = s
}

func (w *window) room() bool { return w.total < w.limit }

func (w *window) add() {
	w.counts[w.cur%ringSlots]++
	w.total++
}

// freeAt is the earliest time at which the window will have room if nothing else is admitted:
// now if it has room, Never if the limit is zero.
func (w *window) freeAt(now time.Duration) time.Duration {
	if w.room() {
		return now
	}
	if w.limit <= 0 {
		return Never
	}
	left := w.total
	for k := w.cur - windowSlots; k <= w.cur; k++ {
		left -= int64(w.counts[((k%ringSlots)+ringSlots)%ringSlots])
		if left < w.limit {
			// Slot k leaves the window when the current slot is k+ringSlots.
			return time.Duration(k+ringSlots) * slotWidth
		}
	}
	return Never
}

// lastSecond is how many admissions the window holds: those of about the last second.
func (w *window) lastSecond() int64 { return w.total }
