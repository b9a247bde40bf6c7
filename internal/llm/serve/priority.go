package serve

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"aya/internal/httpx"
	"aya/internal/llm"
	"aya/internal/tps"
)

// Priority ranks a call for a saturated deployment. The zero value is medium, so a key built
// without one (an admin-created key, the anonymous key) is medium.
type Priority int8

// The priorities, most important first.
const (
	PriorityCritical Priority = iota - 2
	PriorityHigh
	PriorityMedium
	PriorityLow
)

// ParsePriority reads critical, high, medium or low (any case).
func ParsePriority(s string) (Priority, error) {
	l, err := tps.ParsePriority(s)
	if err != nil {
		return PriorityMedium, err
	}
	return Priority(int(l) - 2), nil
}

func (p Priority) String() string { return p.level().String() }

// level is the priority as the capacity pool's service level.
func (p Priority) level() tps.Priority { return tps.Priority(int(p) + 2) }

// Request headers that set a call's class.
const (
	headerPriority = "x-aya-priority" // critical|high|medium|low, for keys that allow it
	headerBatch    = "x-aya-batch"    // true: use spare capacity only, wait instead of 429
	headerDeadline = "x-aya-deadline" // seconds the call may wait for capacity
)

// maxDeadline bounds x-aya-deadline: the pools' own queue deadline is set to it, so a call's
// wait is only ever ended by its context.
const maxDeadline = 24 * time.Hour

// Class is how a call is admitted to deployments' capacity pools.
type Class struct {
	Priority Priority
	// Batch calls are below every priority: they use only capacity nobody else wants, and wait
	// for it until Deadline instead of being refused.
	Batch bool
	// Wait bounds an interactive call's wait at each saturated deployment (0: the pools'
	// QueueTimeout); Deadline, when set, bounds the whole call's waiting.
	Wait     time.Duration
	Deadline time.Time
}

// Tier names the class as the pools' service does: the priority, or batch.
func (c Class) Tier() string {
	if c.Batch {
		return tierBatch
	}
	return c.Priority.String()
}

type classKey struct{}

// WithClass attaches a call's class to its context, where the router's admission reads it.
// A call without one is medium and interactive.
func WithClass(ctx context.Context, c Class) context.Context {
	return context.WithValue(ctx, classKey{}, c)
}

func classOf(ctx context.Context) Class {
	c, _ := ctx.Value(classKey{}).(Class)
	return c
}

// classify reads a call's class from its key and, where allowed, its headers: x-aya-priority
// only when the key allows it (otherwise ignored, so a client library that always sends it
// keeps working), x-aya-batch from anyone (it only lowers the call), x-aya-deadline in seconds.
func (h *Handler) classify(r *httpx.Request, key *Key) (Class, *llm.Error) {
	c := Class{Priority: key.Priority, Batch: key.Batch, Wait: h.pools.queueTimeout}
	if v := r.Header.Get(headerPriority); v != "" && key.AllowPriorityHeader {
		p, err := ParsePriority(strings.TrimSpace(v))
		if err != nil {
			return c, badHeader(headerPriority, err.Error())
		}
		c.Priority = p
	}
	if v := r.Header.Get(headerBatch); v != "" {
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			return c, badHeader(headerBatch, "want true or false, got "+strconv.Quote(v))
		}
		c.Batch = c.Batch || b
	}
	wait := time.Duration(0)
	if c.Batch {
		wait = h.pools.batchTimeout
	}
	if v := r.Header.Get(headerDeadline); v != "" {
		s, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(s > 0) || math.IsInf(s, 0) {
			return c, badHeader(headerDeadline, "want a number of seconds above 0, got "+strconv.Quote(v))
		}
		wait = min(time.Duration(s*float64(time.Second)), maxDeadline)
	}
	if wait > 0 {
		c.Deadline = time.Now().Add(wait)
	}
	return c, nil
}

func badHeader(name, why string) *llm.Error {
	e := llm.Errorf(400, llm.ErrInvalidRequest, "header %s: %s", name, why)
	e.Param = name
	return e
}
