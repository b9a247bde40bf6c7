package serve

import (
	"encoding/json"
	"testing"
	"time"
)

// TestBudgetStopsAtLimit: calls go through until the next one's estimate no longer fits the
// day's token budget; then 429 insufficient_quota. What the budget counted equals, to the
// token, what the provider reported in the answers.
func TestBudgetStopsAtLimit(t *testing.T) {
	k := &Key{Name: "team", Budget: &Budget{Tokens: 150, Period: PerDay}, Usage: &Usage{}}
	e := newEnv(t, map[string]*Key{"sk": k})
	reported, ok := int64(0), 0
	for i := range 20 {
		w := e.do("POST", "/v1/chat/completions", body(oaBody, "claude", ""), "Authorization", "Bearer sk")
		if w.status == 429 {
			var eb struct{ Error struct{ Code string } }
			json.Unmarshal(w.body.Bytes(), &eb)
			if eb.Error.Code != "insufficient_quota" || i == 0 {
				t.Fatalf("call %d: %s", i, w.body.String())
			}
			break
		}
		if w.status != 200 {
			t.Fatalf("call %d: %d %s", i, w.status, w.body.String())
		}
		var c struct {
			Usage struct {
				TotalTokens int64 `json:"total_tokens"`
			}
		}
		json.Unmarshal(w.body.Bytes(), &c)
		reported += c.Usage.TotalTokens
		ok++
	}
	used, _ := k.BudgetUsed(time.Now())
	if ok == 0 || used != reported || used > 150 {
		t.Fatalf("%d calls: budget counted %d tokens, provider reported %d, cap 150", ok, used, reported)
	}
	if k.heldTokens != 0 {
		t.Fatalf("%d tokens still held after every call finished", k.heldTokens)
	}
}

func TestBudgetDollarsAndPeriods(t *testing.T) {
	b := &Key{Name: "k", Budget: &Budget{USD: 1, Period: PerMonth}, Usage: &Usage{}}
	jan := time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC)
	h, err := b.reserve(t.Context(), jan, hold{usd: 0.6})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.reserve(t.Context(), jan, hold{usd: 0.6}); err == nil {
		t.Fatal("two holds of $0.60 fit a $1 budget")
	}
	b.settleBudget(jan, h, 10, 0.5)
	if _, err := b.reserve(t.Context(), jan, hold{usd: 0.6}); err == nil {
		t.Fatal("$0.50 spent + $0.60 fit a $1 budget")
	}
	if _, err := b.reserve(t.Context(), jan.Add(2*time.Hour), hold{usd: 0.6}); err != nil {
		t.Fatalf("a new month did not reset the budget: %v", err)
	}
}

// TestLedgerKeepsUsageAcrossRebuilds: a reload builds new keys; a key of the same name keeps
// its month's spend even when its budget changed.
func TestLedgerKeepsUsageAcrossRebuilds(t *testing.T) {
	l := NewLedger()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	k1 := &Key{Name: "team", Budget: &Budget{Tokens: 100, Period: PerMonth}, Usage: l.Usage("team")}
	h, err := k1.reserve(t.Context(), now, hold{tokens: 60})
	if err != nil {
		t.Fatal(err)
	}
	k1.settleBudget(now, h, 60, 0)
	k2 := &Key{Name: "team", Budget: &Budget{Tokens: 110, Period: PerMonth}, Usage: l.Usage("team")}
	if used, _ := k2.BudgetUsed(now); used != 60 {
		t.Fatalf("rebuilt key sees %d tokens used, want 60", used)
	}
	if _, err := k2.reserve(t.Context(), now, hold{tokens: 60}); err == nil {
		t.Fatal("the rebuilt key forgot what was spent: 60 + 60 fit a 110 budget")
	}
	if l.Usage("other") == l.Usage("team") {
		t.Fatal("two keys share a usage")
	}
}

func TestLedgerRecordsRestore(t *testing.T) {
	l := NewLedger()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	k := &Key{Name: "team", Budget: &Budget{Tokens: 100, Period: PerMonth}, Usage: l.Usage("team")}
	h, _ := k.reserve(t.Context(), now, hold{tokens: 10})
	k.settleBudget(now, h, 30, 0.25)
	k.Requests.Add(2)
	recs := l.Records()
	l2 := NewLedger()
	l2.Restore("team", recs["team"])
	k2 := &Key{Name: "team", Budget: &Budget{Tokens: 100, Period: PerMonth}, Usage: l2.Usage("team")}
	if tok, usd := k2.BudgetUsed(now); tok != 30 || usd != 0.25 || k2.Requests.Load() != 2 {
		t.Fatalf("restored usage: %d tokens $%v %d requests", tok, usd, k2.Requests.Load())
	}
	if tok, _ := k2.BudgetUsed(now.AddDate(0, 1, 0)); tok != 0 {
		t.Fatal("a restored spend outlived its month")
	}
}
