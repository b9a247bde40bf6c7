package serve

import (
	"context"
	"errors"
	"testing"
	"time"
)

// fakeStore is a BudgetStore that answers refused or fails, and records settlements.
type fakeStore struct {
	refused  string
	err      error
	reserved int
	settled  []int64 // the tokens of each settlement
}

func (f *fakeStore) Reserve(_ context.Context, _ string, _ int64, _ time.Duration, _, _, _, _ int64) (string, error) {
	if f.err == nil && f.refused == "" {
		f.reserved++
	}
	return f.refused, f.err
}

func (f *fakeStore) Used(_ context.Context, _ string, _ int64) (int64, int64, error) {
	var t int64
	for _, n := range f.settled {
		t += n
	}
	return t, 0, f.err
}

func (f *fakeStore) Settle(_ context.Context, _ string, _ int64, _ time.Duration, _, _, tokens, _ int64) error {
	f.settled = append(f.settled, tokens)
	return f.err
}

// TestBudgetStore: with a store the store decides and is settled; when it fails the node's own
// sums decide (and get the usage either way).
func TestBudgetStore(t *testing.T) {
	now := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name         string
		store        fakeStore
		wantErr      bool
		wantShared   bool
		wantSettled  int
		wantLocalUse int64
	}{
		{name: "store admits", store: fakeStore{}, wantShared: true, wantSettled: 1, wantLocalUse: 40},
		{name: "store refuses", store: fakeStore{refused: "token"}, wantErr: true},
		{name: "store down: the node decides", store: fakeStore{err: errors.New("down")}, wantLocalUse: 40},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := NewLedger()
			l.SetBudgetStore(&tc.store)
			k := &Key{Name: "team", Budget: &Budget{Tokens: 100, Period: PerDay}, Usage: l.Usage("team")}
			h, e := k.reserve(t.Context(), now, hold{tokens: 50})
			if (e != nil) != tc.wantErr {
				t.Fatalf("reserve: %v, want error %v", e, tc.wantErr)
			}
			if e != nil {
				return
			}
			if h.shared != tc.wantShared {
				t.Fatalf("shared = %v, want %v", h.shared, tc.wantShared)
			}
			k.settleBudget(now, h, 40, 0)
			if len(tc.store.settled) != tc.wantSettled {
				t.Fatalf("%d settlements in the store, want %d", len(tc.store.settled), tc.wantSettled)
			}
			if used, _ := k.BudgetUsed(now); used != tc.wantLocalUse {
				t.Fatalf("the node's own sum = %d, want %d", used, tc.wantLocalUse)
			}
			if k.heldTokens != 0 {
				t.Fatalf("%d tokens still held on the node after settling", k.heldTokens)
			}
		})
	}
}
