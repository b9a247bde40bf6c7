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
	k := &Key{Name: "team", Budget: &Budget{Tokens: 150, Period: PerDay}}
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
	used, _ := k.Budget.Used(time.Now())
	if ok == 0 || used != reported || used > 150 {
		t.Fatalf("%d calls: budget counted %d tokens, provider reported %d, cap 150", ok, used, reported)
	}
	if k.Budget.heldTokens != 0 {
		t.Fatalf("%d tokens still held after every call finished", k.Budget.heldTokens)
	}
}

func TestBudgetDollarsAndPeriods(t *testing.T) {
	b := &Budget{USD: 1, Period: PerMonth}
	jan := time.Date(2026, 1, 31, 23, 0, 0, 0, time.UTC)
	h, err := b.reserve(jan, "k", hold{usd: 0.6})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.reserve(jan, "k", hold{usd: 0.6}); err == nil {
		t.Fatal("two holds of $0.60 fit a $1 budget")
	}
	b.settle(jan, h, 10, 0.5)
	if _, err := b.reserve(jan, "k", hold{usd: 0.6}); err == nil {
		t.Fatal("$0.50 spent + $0.60 fit a $1 budget")
	}
	if _, err := b.reserve(jan.Add(2*time.Hour), "k", hold{usd: 0.6}); err != nil {
		t.Fatalf("a new month did not reset the budget: %v", err)
	}
}
