package serve

import (
	"context"
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
//
// The sums live in the key's Usage, so they survive a reload that changes the budget.
type Budget struct {
	Tokens int64   // 0: no token cap
	USD    float64 // 0: no dollar cap
	Period string  // PerDay or PerMonth
}

// hold is one call's reservation. shared: it is held in the Ledger's BudgetStore, for period.
type hold struct {
	tokens int64
	usd    float64
	shared bool
	period int64
}

func (b *Budget) periodOf(now time.Time) int64 {
	now = now.UTC()
	if b.Period == PerDay {
		return now.Unix() / 86400
	}
	return int64(now.Year())*12 + int64(now.Month())
}

// rollBudget starts a new budget period's sums; u.mu is held.
func (u *Usage) rollBudget(b *Budget, now time.Time) {
	if p := b.periodOf(now); p != u.period {
		u.period, u.usedTokens, u.usedUSD = p, 0, 0
	}
}

// reserve holds est for a call, or refuses it when the period's budget cannot cover it.
// With a BudgetStore the store decides; only when it fails does this node's own sum decide.
func (k *Key) reserve(ctx context.Context, now time.Time, est hold) (hold, *llm.Error) {
	b, u := k.Budget, k.Usage
	if s := u.store(); s != nil {
		h, refused, err := k.reserveShared(ctx, s, now, est)
		if err == nil {
			if refused != "" {
				return hold{}, b.exceeded(k.Name, refused)
			}
			return h, nil
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.rollBudget(b, now)
	if b.Tokens > 0 && u.usedTokens+u.heldTokens+est.tokens > b.Tokens {
		return hold{}, b.exceeded(k.Name, "token")
	}
	if b.USD > 0 && u.usedUSD+u.heldUSD+est.usd > b.USD {
		return hold{}, b.exceeded(k.Name, "dollar")
	}
	u.heldTokens += est.tokens
	u.heldUSD += est.usd
	return est, nil
}

func (b *Budget) exceeded(name, what string) *llm.Error {
	return &llm.Error{Status: 429, Type: llm.ErrRateLimit, Code: "insufficient_quota",
		Message: "key " + name + ": the " + b.Period + "'s " + what + " budget does not cover this request: wait for the next " + b.Period + " or ask for a larger budget"}
}

// settleBudget releases a call's hold and adds what it really used.
// A hold taken in the shared store is settled there; the node's own sums get the usage either
// way, so they are current should the store fail.
func (k *Key) settleBudget(now time.Time, h hold, tokens int64, usd float64) {
	u := k.Usage
	if h.shared {
		if s := u.store(); s != nil {
			k.settleShared(s, h, tokens, usd) // the store counts its own failures
		}
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if !h.shared {
		u.heldTokens -= h.tokens
		u.heldUSD -= h.usd
	}
	u.rollBudget(k.Budget, now)
	u.usedTokens += tokens
	u.usedUSD += usd
}

// BudgetUsed is what the key's current budget period has consumed (0, 0 without a budget).
func (k *Key) BudgetUsed(now time.Time) (tokens int64, usd float64) {
	if k.Budget == nil {
		return 0, 0
	}
	u := k.Usage
	u.mu.Lock()
	defer u.mu.Unlock()
	u.rollBudget(k.Budget, now)
	return u.usedTokens, u.usedUSD
}

// estimate is what a call may cost at most on the dearest deployment of the plan.
// promptTokens is the prompt's counted size.
func estimate(req *llm.Request, promptTokens int, plan []*Deployment) hold {
	in := int64(promptTokens)
	out := int64(req.MaxTokens)
	var usd float64
	for _, d := range plan {
		usd = max(usd, (float64(in)*d.InputCost+float64(out)*d.OutputCost)/1e6)
	}
	return hold{tokens: in + out, usd: usd}
}
