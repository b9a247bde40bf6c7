package serve

import (
	"sync"
	"time"

	"aya/internal/llm"
)

// Budget periods.
const (
	PerDay   = "day"
	PerMonth = "month"
)

// Budget caps what a key may spend per calendar day or month (UTC), in tokens and/or dollars.
// A call reserves its estimate (the prompt's tokens and the answer's max_tokens) before it
// starts and settles the provider's exact usage after, so concurrent calls cannot together run
// past the cap by more than their estimates were wrong.
type Budget struct {
	Tokens int64   // 0: no token cap
	USD    float64 // 0: no dollar cap
	Period string  // PerDay or PerMonth

	mu         sync.Mutex
	period     int64 // the period the sums below are for
	usedTokens int64
	usedUSD    float64
	heldTokens int64
	heldUSD    float64
}

// hold is one call's reservation.
type hold struct {
	tokens int64
	usd    float64
}

func (b *Budget) periodOf(now time.Time) int64 {
	now = now.UTC()
	if b.Period == PerDay {
		return now.Unix() / 86400
	}
	return int64(now.Year())*12 + int64(now.Month())
}

func (b *Budget) roll(now time.Time) {
	if p := b.periodOf(now); p != b.period {
		b.period, b.usedTokens, b.usedUSD = p, 0, 0
	}
}

// reserve holds est for a call, or refuses it when the period's budget cannot cover it.
func (b *Budget) reserve(now time.Time, name string, est hold) (hold, *llm.Error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.roll(now)
	if b.Tokens > 0 && b.usedTokens+b.heldTokens+est.tokens > b.Tokens {
		return hold{}, b.exceeded(name, "token")
	}
	if b.USD > 0 && b.usedUSD+b.heldUSD+est.usd > b.USD {
		return hold{}, b.exceeded(name, "dollar")
	}
	b.heldTokens += est.tokens
	b.heldUSD += est.usd
	return est, nil
}

func (b *Budget) exceeded(name, what string) *llm.Error {
	return &llm.Error{Status: 429, Type: llm.ErrRateLimit, Code: "insufficient_quota",
		Message: "key " + name + ": the " + b.Period + "'s " + what + " budget does not cover this request: wait for the next " + b.Period + " or ask for a larger budget"}
}

// settle releases a call's hold and adds what it really used.
func (b *Budget) settle(now time.Time, h hold, tokens int64, usd float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.heldTokens -= h.tokens
	b.heldUSD -= h.usd
	b.roll(now)
	b.usedTokens += tokens
	b.usedUSD += usd
}

// Used is what the current period has consumed.
func (b *Budget) Used(now time.Time) (tokens int64, usd float64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.roll(now)
	return b.usedTokens, b.usedUSD
}

// estimate is what a call may cost at most on the dearest deployment of the plan.
func estimate(req *llm.Request, plan []*Deployment) hold {
	in := int64(llm.EstimateTokens(req))
	out := int64(req.MaxTokens)
	var usd float64
	for _, d := range plan {
		usd = max(usd, (float64(in)*d.InputCost+float64(out)*d.OutputCost)/1e6)
	}
	return hold{tokens: in + out, usd: usd}
}
