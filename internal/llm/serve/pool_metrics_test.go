package serve

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"aya/internal/llm"
)

// TestPoolCollector: a tpm deployment's tokens admitted and refused, and a small rpm
// deployment's requests, appear by deployment and tier; deployments without pools do not.
func TestPoolCollector(t *testing.T) {
	tok := &Deployment{Provider: &tagged{}, ProviderName: "oa", Model: "gpt-4o", Weight: 1, TPM: 600}
	req := &Deployment{Provider: &tagged{}, ProviderName: "local", Model: "llama", Weight: 1, RPM: 6}
	free := &Deployment{Provider: &tagged{}, ProviderName: "free", Model: "free", Weight: 1}
	m := &Model{Name: "m", Strategy: Weighted, Deployments: []*Deployment{tok}}
	small := &Model{Name: "small", Strategy: Weighted, Deployments: []*Deployment{req, free}}
	r := NewRouter([]*Model{m, small}, map[string]*Model{"alias": m}, time.Minute)
	h := NewHandler(r, NewKeys(nil, nil), nil, slog.New(slog.DiscardHandler))
	if err := h.StartPools(PoolOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	c := NewPoolCollector()
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("%d metrics before Track", n)
	}
	c.Track(h)
	ctx := WithClass(context.Background(), Class{Priority: PriorityHigh, Tokens: 90})
	if _, _, _, e := r.Chat(ctx, &llm.Request{}, []*Deployment{tok}); e != nil {
		t.Fatal(e)
	}
	SettleTokens(ctx, 30)
	wait := WithClass(context.Background(), Class{Priority: PriorityLow, Tokens: 80, Wait: 10 * time.Millisecond})
	if _, _, _, e := r.Chat(wait, &llm.Request{}, []*Deployment{tok}); e == nil {
		t.Fatal("a call over the bucket was admitted")
	}
	r.Chat(WithClass(context.Background(), Class{Batch: true}), &llm.Request{}, []*Deployment{req})
	want := `
# HELP aya_llm_pool_admitted_tokens_total Estimated tokens of LLM calls admitted by the deployment's pool, by deployment model, provider and tier (critical, high, medium, low, batch).
# TYPE aya_llm_pool_admitted_tokens_total counter
aya_llm_pool_admitted_tokens_total{model="gpt-4o",provider="oa",tier="batch"} 0
aya_llm_pool_admitted_tokens_total{model="gpt-4o",provider="oa",tier="critical"} 0
aya_llm_pool_admitted_tokens_total{model="gpt-4o",provider="oa",tier="high"} 90
aya_llm_pool_admitted_tokens_total{model="gpt-4o",provider="oa",tier="low"} 0
aya_llm_pool_admitted_tokens_total{model="gpt-4o",provider="oa",tier="medium"} 0
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want), "aya_llm_pool_admitted_tokens_total"); err != nil {
		t.Fatal(err)
	}
	st := tok.capacity.tokens.snapshot()
	if st[int(PriorityLow.level())].Queued != 80 || st[int(PriorityLow.level())].Refused != 80 {
		t.Fatalf("low tier: %+v", st[int(PriorityLow.level())])
	}
	if n := testutil.CollectAndCount(c, "aya_llm_pool_admitted_requests_total"); n != numTiers {
		t.Fatalf("%d request series, want one per tier of the rpm-6 deployment", n)
	}
	if st := req.capacity.requests.snapshot(); st[batchService].Admitted != 1 {
		t.Fatalf("batch on rpm 6: %+v", st[batchService])
	}
}
