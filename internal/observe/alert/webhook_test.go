package alert

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// receiver is a webhook endpoint that answers the statuses it is told to, in turn.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	delay    time.Duration
	got      []Payload
	headers  []http.Header
	calls    int
	srv      *httptest.Server
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{statuses: statuses}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.calls++
		status := 200
		if len(r.statuses) > 0 {
			status, r.statuses = r.statuses[0], r.statuses[1:]
		}
		delay := r.delay
		r.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-req.Context().Done():
				return
			}
		}
		if status == 200 {
			var p Payload
			if err := json.Unmarshal(body, &p); err != nil {
				t.Errorf("webhook body %q: %v", body, err)
			}
			r.mu.Lock()
			r.got = append(r.got, p)
			r.headers = append(r.headers, req.Header.Clone())
			r.mu.Unlock()
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) wait(t *testing.T, n int, limit time.Duration) []Payload {
	t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		if len(r.got) >= n {
			out := append([]Payload(nil), r.got...)
			r.mu.Unlock()
			return out
		}
		r.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("receiver got %d payloads in %v, want %d (calls %d)", len(r.got), limit, n, r.calls)
	return nil
}

// startEngine runs an engine whose only rule fires while *failing is set.
func startEngine(t *testing.T, hooks []Webhook, failing *string) (*Engine, *logBuffer) {
	log, logs := newLogger()
	e := New(Config{Rules: []Rule{{Name: "reload", Type: TypeReloadFailed, Severity: "critical"}}, Webhooks: hooks},
		Options{ReloadError: func() string { return *failing }, Logger: log})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(20 * time.Millisecond) // let Run start the workers
	return e, logs
}

func TestWebhookRetriesThenDelivers(t *testing.T) {
	rcv := newReceiver(t, 500, 503)
	msg := "boom"
	e, _ := startEngine(t, []Webhook{{URL: rcv.srv.URL + "/hook", Timeout: time.Second, Retries: 3, Headers: map[string]string{"Authorization": "Bearer k"}}}, &msg)
	e.Evaluate(at(0))
	e.Evaluate(at(1)) // still firing: no second notification
	msg = ""
	e.Evaluate(at(2))
	got := rcv.wait(t, 2, 5*time.Second)
	if got[0].Status != Firing || got[0].Alert.Key != "reload" || got[0].Source != "aya" || !strings.Contains(got[0].Alert.Message, "boom") {
		t.Fatalf("first payload %+v", got[0])
	}
	if got[1].Status != Resolved || !got[1].Alert.EndsAt.Equal(at(2)) {
		t.Fatalf("second payload %+v", got[1])
	}
	time.Sleep(100 * time.Millisecond)
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.calls != 4 || len(rcv.got) != 2 {
		t.Fatalf("%d calls, %d delivered; want 2 failures + 2 deliveries", rcv.calls, len(rcv.got))
	}
	if h := rcv.headers[0]; h.Get("Authorization") != "Bearer k" || h.Get("Content-Type") != "application/json" {
		t.Fatalf("headers %v", h)
	}
}

func TestWebhookGivesUp(t *testing.T) {
	for _, tc := range []struct {
		name     string
		statuses []int
		delay    time.Duration
		retries  int
		calls    int
		log      string
	}{
		{"client error is not retried", []int{400}, 0, 3, 1, "receiver answered 400; check the webhook url"},
		{"server errors until retries run out", []int{500, 500, 500}, 0, 2, 3, "receiver answered 500"},
		{"timeout", nil, time.Second, 1, 2, "context deadline exceeded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rcv := newReceiver(t, tc.statuses...)
			rcv.delay = tc.delay
			msg := "boom"
			e, logs := startEngine(t, []Webhook{{URL: rcv.srv.URL + "/hook?token=secret", Timeout: 100 * time.Millisecond, Retries: tc.retries}}, &msg)
			e.Evaluate(at(0))
			deadline := time.Now().Add(5 * time.Second)
			for !strings.Contains(logs.String(), "giving up") && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			out := logs.String()
			if !strings.Contains(out, tc.log) || strings.Contains(out, "secret") {
				t.Fatalf("log:\n%s", out)
			}
			rcv.mu.Lock()
			defer rcv.mu.Unlock()
			if rcv.calls != tc.calls {
				t.Fatalf("%d calls, want %d", rcv.calls, tc.calls)
			}
		})
	}
}

func TestSetConfigSwapsWebhooksAndKeepsAlerts(t *testing.T) {
	a, b := newReceiver(t), newReceiver(t)
	msg := "boom"
	e, _ := startEngine(t, []Webhook{{URL: a.srv.URL, Timeout: time.Second}}, &msg)
	e.Evaluate(at(0))
	a.wait(t, 1, 5*time.Second)
	cfg := e.Config()
	cfg.Webhooks = []Webhook{{URL: b.srv.URL, Timeout: time.Second}}
	e.SetConfig(cfg)
	e.Evaluate(at(1))
	if f := e.Firing(); len(f) != 1 || !f[0].StartsAt.Equal(at(0)) {
		t.Fatalf("the alert did not carry over the reload: %+v", f)
	}
	msg = ""
	e.Evaluate(at(2))
	if got := b.wait(t, 1, 5*time.Second); got[0].Status != Resolved {
		t.Fatalf("new webhook got %+v", got)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.got) != 1 {
		t.Fatalf("old webhook got %d payloads after the swap", len(a.got))
	}
}
