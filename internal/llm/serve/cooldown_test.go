package serve

import (
	"context"
	"testing"
	"time"

	"aya/internal/llm"
)

// scripted answers Chat with its errors in order, then succeeds.
type scripted struct {
	errs  []*llm.Error
	calls int
}

func (s *scripted) Chat(context.Context, *llm.Request, string) (*llm.Response, error) {
	s.calls++
	if len(s.errs) > 0 {
		e := s.errs[0]
		s.errs = s.errs[1:]
		return nil, e
	}
	return &llm.Response{Text: "ok"}, nil
}

func (s *scripted) Stream(context.Context, *llm.Request, string) (llm.Stream, error) {
	return nil, llm.Errorf(500, llm.ErrServer, "unused")
}

// TestCooldownAndRecovery: a 429 with retry-after 3s keeps the deployment out of first place
// for 3s (longer than the configured 1s cooldown), then it takes traffic again; a 400 is
// returned at once, with no other deployment tried and no cooldown.
func TestCooldownAndRecovery(t *testing.T) {
	now := time.Unix(2_000_000, 0)
	pa := &scripted{errs: []*llm.Error{{Status: 429, Type: llm.ErrRateLimit, RetryAfter: 3 * time.Second}}}
	pb := &scripted{}
	a := &Deployment{Provider: pa, Model: "a", Weight: 1}
	b := &Deployment{Provider: pb, Model: "b"} // weight 0: a standby, always after a
	m := &Model{Name: "m", Strategy: Weighted, Deployments: []*Deployment{a, b}}
	r := NewRouter([]*Model{m}, nil, time.Second)
	r.now = func() time.Time { return now }
	req := &llm.Request{}

	_, d, tries, err := r.Chat(context.Background(), req, r.Plan(m, 0))
	if err != nil || d != b || len(tries) != 1 {
		t.Fatalf("first call: answered by %v, %d tries, %v", d, len(tries), err)
	}
	now = now.Add(2 * time.Second)
	if plan := r.Plan(m, 0); plan[0] != b {
		t.Fatal("a took traffic again before its retry-after ended")
	}
	now = now.Add(1500 * time.Millisecond)
	if _, d, _, _ := r.Chat(context.Background(), req, r.Plan(m, 0)); d != a {
		t.Fatalf("a did not recover after its retry-after: answered by %s", d.Model)
	}

	pa.errs = []*llm.Error{{Status: 400, Type: llm.ErrInvalidRequest, Message: "bad"}}
	callsB := pb.calls
	_, _, _, err = r.Chat(context.Background(), req, r.Plan(m, 0))
	if err == nil || err.Status != 400 || pb.calls != callsB || a.cooling(now) {
		t.Fatalf("a 400 must come back at once without fallback or cooldown: %v", err)
	}
}
