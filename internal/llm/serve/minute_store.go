package serve

import (
	"context"
	"time"
)

// LimitStore counts keys' requests and tokens per minute outside this process (a cluster's
// Redis), so a key's rpm and tpm hold across every node. An error means the store could not
// decide: the key then counts on this node alone.
type LimitStore interface {
	// Admit counts a request in the key's minute, or names the limit ("requests" or "tokens")
	// the minute has used up (0: no limit).
	Admit(ctx context.Context, key string, minute int64, rpm, tpm int) (refused string, err error)
	// AddTokens adds a finished call's tokens to the key's minute.
	AddTokens(ctx context.Context, key string, minute int64, tokens int) error
}

// SetLimitStore makes every key of l count its rpm and tpm in s (nil: in memory). Call it
// before calls start.
func (l *Ledger) SetLimitStore(s LimitStore) { l.limits = s }

// limitStore is the LimitStore u's minute is counted in, or nil.
func (u *Usage) limitStore() LimitStore {
	if u.ledger == nil {
		return nil
	}
	return u.ledger.limits
}

// admitShared asks the shared store: refused names the limit it refused on, ok false says it
// could not answer.
func (k *Key) admitShared(ctx context.Context, s LimitStore, now time.Time) (refused string, ok bool) {
	refused, err := s.Admit(ctx, k.Name, now.Unix()/60, k.RPM, k.TPM)
	return refused, err == nil
}

// addTokensShared adds a call's tokens to the shared minute; it runs after the client may have
// left, so on its own deadline. A failure is counted by the store.
func (k *Key) addTokensShared(s LimitStore, now time.Time, tokens int) {
	ctx, cancel := context.WithTimeout(context.Background(), settleTimeout)
	defer cancel()
	s.AddTokens(ctx, k.Name, now.Unix()/60, tokens)
}
