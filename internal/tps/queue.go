package tps

import "time"

// The queue holds the requests waiting for capacity: one FIFO per service, linked through a
// slab of waiters so that enqueue, release and cancel are O(1) and reuse memory. The policy
// (which head goes first) lives in the pool; the queue only keeps order.

type waiterState uint8

const (
	slotFree waiterState = iota
	slotWaiting
	slotDone // released or rejected; a live waiter has not picked up its result yet
)

// Why a queued request did not get through.
type rejectReason uint8

const (
	reasonNone rejectReason = iota
	reasonQueueFull
	reasonDeadline
	reasonEvicted
	reasonClosed
)

func (r rejectReason) String() string {
	switch r {
	case reasonQueueFull:
		return "queue full"
	case reasonDeadline:
		return "queue deadline passed"
	case reasonEvicted:
		return "queue full, place taken by a more important request"
	case reasonClosed:
		return "pool closed"
	}
	return "rejected"
}

type waiter struct {
	svc      int
	gen      uint32
	state    waiterState
	live     bool // a goroutine waits on ch; it frees the slot after reading
	admitted bool
	reason   rejectReason
	arrived  time.Duration
	deadline time.Duration
	prev     int32
	next     int32
	ch       chan bool // live waiters only; made once per slot and reused
}

type queue struct {
	slots   []waiter
	free    []int32
	head    []int32 // per service, -1 when empty
	tail    []int32
	length  []int
	waiting int
}

func newQueue(services int) queue {
	q := queue{head: make([]int32, services), tail: make([]int32, services), length: make([]int, services)}
	for i := range q.head {
		q.head[i], q.tail[i] = -1, -1
	}
	return q
}

// push appends a waiter to svc's FIFO and returns its slot.
func (q *queue) push(svc int, arrived, deadline time.Duration, live bool) int32 {
	var i int32
	if n := len(q.free); n > 0 {
		i = q.free[n-1]
		q.free = q.free[:n-1]
	} else {
		q.slots = append(q.slots, waiter{})
		i = int32(len(q.slots) - 1)
	}
	w := &q.slots[i]
	w.svc, w.state, w.live, w.admitted, w.reason = svc, slotWaiting, live, false, reasonNone
	w.arrived, w.deadline = arrived, deadline
	w.prev, w.next = q.tail[svc], -1
	if live && w.ch == nil {
		w.ch = make(chan bool, 1)
	}
	if q.tail[svc] >= 0 {
		q.slots[q.tail[svc]].next = i
	} else {
		q.head[svc] = i
	}
	q.tail[svc] = i
	q.length[svc]++
	q.waiting++
	return i
}

// unlink takes a waiting slot out of its FIFO and marks it done.
func (q *queue) unlink(i int32) {
	w := &q.slots[i]
	if w.prev >= 0 {
		q.slots[w.prev].next = w.next
	} else {
		q.head[w.svc] = w.next
	}
	if w.next >= 0 {
		q.slots[w.next].prev = w.prev
	} else {
		q.tail[w.svc] = w.prev
	}
	w.prev, w.next = -1, -1
	w.state = slotDone
	q.length[w.svc]--
	q.waiting--
}

// release returns a done slot to the free list; its generation changes so that an old Ticket
// for it no longer matches.
func (q *queue) release(i int32) {
	w := &q.slots[i]
	w.state = slotFree
	w.gen++
	q.free = append(q.free, i)
}
