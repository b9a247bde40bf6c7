package serve

import (
	"context"
	"time"
)

// BudgetStore keeps budget sums outside this process (a cluster's Redis), so that the calls of
// every node count against one budget. Reserve and Settle are atomic in the store. An error
// means the store could not decide: the key then falls back to this node's own sums (so a
// cluster of N nodes may spend up to N times the budget while the store is down).
//
// usd values are micro-dollars, so the store adds integers.
type BudgetStore interface {
	// Reserve holds est against the key's budget for period, or names the cap ("token" or
	// "dollar") that used+held+est would pass (a cap of 0 is no cap).
	Reserve(ctx context.Context, key string, period int64, ttl time.Duration, capTokens, capMicros, estTokens, estMicros int64) (refused string, err error)
	// Settle releases a hold and adds what the call really used.
	Settle(ctx context.Context, key string, period int64, ttl time.Duration, heldTokens, heldMicros, tokens, micros int64) error
	// Used is what the key's calls on every node used in period (settled, not held).
	Used(ctx context.Context, key string, period int64) (tokens, micros int64, err error)
}

// settleTimeout bounds a settlement that runs after the client left (its context is gone, and
// the hold must still be released).
const settleTimeout = time.Second

// SetBudgetStore makes every key of l reserve and settle its budget in s (nil: in memory).
// Call it before calls start.
func (l *Ledger) SetBudgetStore(s BudgetStore) { l.budgets = s }

// budgetTTL keeps a period's sums in the store a little past the period's end.
func (b *Budget) budgetTTL() time.Duration {
	if b.Period == PerDay {
		return 48 * time.Hour
	}
	return 64 * 24 * time.Hour
}

func micros(usd float64) int64 { return int64(usd * 1e6) }

// reserveShared reserves est in the shared store: refused names the cap the store refused
// on, a non-nil error says it could not answer.
func (k *Key) reserveShared(ctx context.Context, s BudgetStore, now time.Time, est hold) (h hold, refused string, err error) {
	b := k.Budget
	p := b.periodOf(now)
	refused, err = s.Reserve(ctx, k.Name, p, b.budgetTTL(), b.Tokens, micros(b.USD), est.tokens, micros(est.usd))
	if err != nil || refused != "" {
		return hold{}, refused, err
	}
	est.shared, est.period = true, p
	return est, "", nil
}

// settleShared releases a hold taken in the shared store. A failure leaves the hold counted
// in the store until its period ends; the node's own sums still get the usage.
func (k *Key) settleShared(s BudgetStore, h hold, tokens int64, usd float64) error {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	return s.Settle(ctx, k.Name, h.period, k.Budget.budgetTTL(), h.tokens, micros(h.usd), tokens, micros(usd))
}

// SharedBudgetUsed is what the key's budget period used on every node, from the shared store:
// ok is false without a budget or a store, or when the store does not answer (the caller then
// shows this node's own sums, BudgetUsed).
func (k *Key) SharedBudgetUsed(ctx context.Context, now time.Time) (tokens int64, usd float64, ok bool) {
	s := k.Usage.store()
	if k.Budget == nil || s == nil {
		return 0, 0, false
	}
	t, m, err := s.Used(ctx, k.Name, k.Budget.periodOf(now))
	if err != nil {
		return 0, 0, false
	}
	return t, float64(m) / 1e6, true
}
