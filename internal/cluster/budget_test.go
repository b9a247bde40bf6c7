package cluster

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// TestBudgetsReserveSettle: reservations stop at the cap, settling moves a hold to what was
// used, and periods are counted apart.
func TestBudgetsReserveSettle(t *testing.T) {
	b := NewBudgets(startRedis(t), "aya:", time.Second, slog.New(slog.DiscardHandler))
	ctx, ttl := t.Context(), time.Hour
	steps := []struct {
		name            string
		reserve         bool
		period          int64
		capT, capU      int64
		estT, estU      int64
		held, used, use int64
		want            string
	}{
		{name: "fits", reserve: true, period: 1, capT: 100, estT: 60, want: ""},
		{name: "held counts", reserve: true, period: 1, capT: 100, estT: 60, want: "token"},
		{name: "settle below the hold", period: 1, held: 60, use: 30},
		{name: "room again", reserve: true, period: 1, capT: 100, estT: 60, want: ""},
		{name: "full", reserve: true, period: 1, capT: 100, estT: 20, want: "token"},
		{name: "next period", reserve: true, period: 2, capT: 100, estT: 100, want: ""},
		{name: "dollar cap", reserve: true, period: 3, capU: 1_000_000, estU: 1_000_001, want: "dollar"},
	}
	for _, s := range steps {
		if !s.reserve {
			if err := b.Settle(ctx, "team", s.period, ttl, s.held, 0, s.use, 0); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
			continue
		}
		got, err := b.Reserve(ctx, "team", s.period, ttl, s.capT, s.capU, s.estT, s.estU)
		if err != nil || got != s.want {
			t.Fatalf("%s: got %q, %v; want %q", s.name, got, err, s.want)
		}
	}
}

// TestBudgetsConcurrent: reservations racing from many clients (as from many nodes) never hold
// more than the cap together.
func TestBudgetsConcurrent(t *testing.T) {
	c := startRedis(t)
	b := NewBudgets(c, "aya:", time.Second, slog.New(slog.DiscardHandler))
	var ok atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if r, err := b.Reserve(t.Context(), "k", 1, time.Hour, 1000, 0, 7, 0); err == nil && r == "" {
					ok.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if got := ok.Load(); got != 1000/7 {
		t.Fatalf("%d reservations of 7 succeeded under a cap of 1000; want %d", got, 1000/7)
	}
}

// TestBudgetsRedisDown: a Redis that does not answer is an error (the caller falls back), and
// counted.
func TestBudgetsRedisDown(t *testing.T) {
	c := goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1", MaxRetries: -1})
	defer c.Close()
	b := NewBudgets(c, "aya:", 100*time.Millisecond, slog.New(slog.DiscardHandler))
	if _, err := b.Reserve(context.Background(), "k", 1, time.Hour, 10, 0, 1, 0); err == nil {
		t.Fatal("Reserve against a closed port succeeded")
	}
	if b.Errors() != 1 {
		t.Fatalf("errors = %d, want 1", b.Errors())
	}
}

func BenchmarkBudgetsReserveSettle(b *testing.B) {
	bs := NewBudgets(startRedis(b), "aya:", time.Second, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		bs.Reserve(ctx, "k", 1, time.Hour, 0, 0, 10, 0)
		bs.Settle(ctx, "k", 1, time.Hour, 10, 0, 10, 0)
	}
}

// TestBudgetsMinute: a key's minute refuses past its rpm, and past its tpm once the tokens
// are added; the next minute starts empty.
func TestBudgetsMinute(t *testing.T) {
	b := NewBudgets(startRedis(t), "aya:", time.Second, slog.New(slog.DiscardHandler))
	ctx := t.Context()
	for i, want := range []string{"", "", "requests"} {
		if got, err := b.Admit(ctx, "k", 1, 2, 0); err != nil || got != want {
			t.Fatalf("rpm call %d: %q, %v; want %q", i, got, err, want)
		}
	}
	if got, _ := b.Admit(ctx, "k", 2, 0, 100); got != "" {
		t.Fatalf("a new minute refused: %q", got)
	}
	if err := b.AddTokens(ctx, "k", 2, 100); err != nil {
		t.Fatal(err)
	}
	if got, _ := b.Admit(ctx, "k", 2, 0, 100); got != "tokens" {
		t.Fatalf("past the tpm: %q, want tokens", got)
	}
}
