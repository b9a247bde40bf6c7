package serve

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestWaitContext: the wait ends at its deadline or with its parent, whichever comes first,
// whether Done is asked for before or after, and carries the parent's values.
func TestWaitContext(t *testing.T) {
	type key struct{}
	bg := context.WithValue(context.Background(), key{}, "v")
	tests := []struct {
		name   string
		parent func() (context.Context, context.CancelFunc)
		wait   time.Duration
		want   error
	}{
		{"deadline", func() (context.Context, context.CancelFunc) { return context.WithCancel(bg) }, 20 * time.Millisecond, context.DeadlineExceeded},
		{"parent cancelled", func() (context.Context, context.CancelFunc) {
			ctx, cancel := context.WithCancel(bg)
			time.AfterFunc(20*time.Millisecond, cancel)
			return ctx, cancel
		}, time.Hour, context.Canceled},
		{"already over", func() (context.Context, context.CancelFunc) { return context.WithCancel(bg) }, -time.Second, context.DeadlineExceeded},
	}
	for _, tt := range tests {
		parent, cancel := tt.parent()
		w := newWaitContext(parent, time.Now().Add(tt.wait))
		if w.Value(key{}) != "v" {
			t.Errorf("%s: the parent's value is lost", tt.name)
		}
		select {
		case <-w.Done():
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: never ended", tt.name)
		}
		if !errors.Is(w.Err(), tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, w.Err(), tt.want)
		}
		w.release()
		cancel()
	}
	w := newWaitContext(bg, time.Now().Add(time.Hour))
	if w.Err() != nil {
		t.Fatalf("a fresh wait: %v", w.Err())
	}
	if d, ok := w.Deadline(); !ok || time.Until(d) < 59*time.Minute {
		t.Fatalf("deadline %v", d)
	}
	w.release()
}
