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
	// Tokens is the call's estimate for deployments' tpm pools: the prompt and the output it
	// may ask for (callTokens); 0 counts one.
	Tokens int
}

// tier is the class's index among the pools' tiers: the priority's tps level, or batch.
func (c Class) tier() int {
	if c.Batch {
		return batchService
	}
	return int(c.Priority.level())
}

// Tier names the class as the pools' service does: the priority, or batch.
func (c Class) Tier() string {
	if c.Batch {
		return tierBatch
	}
	return c.Priority.String()
}

type classKey struct{}

// classBox is a call's class and the token reservation its admission made, for the
// settlement once the provider reported the usage.
type classBox struct {
	Class
	held   grant
	heldAt *tokenPool // nil: nothing to settle
}

// WithClass attaches a call's class to its context, where the router's admission reads it.
// A call without one is medium and interactive.
func WithClass(ctx context.Context, c Class) context.Context {
	return context.WithValue(ctx, classKey{}, &classBox{Class: c})
}

func classOf(ctx context.Context) Class {
	if b, ok := ctx.Value(classKey{}).(*classBox); ok {
		return b.Class
	}
	return Class{}
}

// holdTokens remembers the tokens a deployment's pool reserved for the call in ctx. A reservation on
// a deployment that then failed is replaced, and stays charged at its estimate: aya cannot
// know what the provider counted of a failed call.
func holdTokens(ctx context.Context, p *tokenPool, g grant) {
	if b, ok := ctx.Value(classKey{}).(*classBox); ok {
		b.held, b.heldAt = g, p
	}
}

// SettleTokens replaces the token estimate the answering deployment's tpm pool reserved for
// the call in ctx by the tokens the provider reported: an overestimate is given back, a
// shortfall delays later calls. Once per call; a call without a reservation is a no-op.
func SettleTokens(ctx context.Context, tokens int) {
	if b, ok := ctx.Value(classKey{}).(*classBox); ok && b.heldAt != nil {
		b.heldAt.settle(b.held, float64(tokens))
		b.heldAt = nil
	}
}

// Output estimates of a call's tokens for the tpm pools (callTokens).
const (
	// outputGuess is counted for a call that sets no max_tokens: answers of a few hundred
	// tokens are the common case, and the settlement corrects the rest.
	outputGuess = 256
	// outputCap bounds a max_tokens counted ahead: a client asking for 100k tokens to get a
	// short answer would otherwise hold a deployment's minute until its settlement.
	outputCap = 4096
)

// callTokens is a call's weight on tpm pools: its prompt estimate plus the output it may
// produce — max_tokens (which is what OpenAI's limiter counts ahead) up to outputCap, or
// outputGuess without one.
func callTokens(req *llm.Request, prompt int) int {
	out := outputGuess
	if req.MaxTokens > 0 {
		out = min(req.MaxTokens, outputCap)
	}
	return prompt + out
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
