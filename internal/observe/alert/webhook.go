package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// queueLen bounds the alerts waiting for one webhook; past it new ones are dropped (and
// logged) rather than holding up evaluation.
const queueLen = 256

// Payload is the JSON body each webhook receives.
type Payload struct {
	Source string `json:"source"` // "aya"
	Status string `json:"status"` // firing or resolved
	Alert  Alert  `json:"alert"`
}

// notifier posts alerts to the webhooks, one worker per webhook so a slow receiver delays
// only itself.
type notifier struct {
	hooks  []*hook
	client *http.Client
	log    *slog.Logger
	wg     sync.WaitGroup
	stop   context.CancelFunc
}

type hook struct {
	cfg   Webhook
	queue chan []byte
}

func newNotifier(ws []Webhook, client *http.Client, log *slog.Logger) *notifier {
	n := &notifier{client: client, log: log}
	for _, w := range ws {
		n.hooks = append(n.hooks, &hook{cfg: w, queue: make(chan []byte, queueLen)})
	}
	return n
}

func (n *notifier) start(ctx context.Context) {
	ctx, n.stop = context.WithCancel(ctx)
	for _, h := range n.hooks {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.work(ctx, h)
		}()
	}
}

// close lets the workers finish what is queued (each send is bounded by its timeout and
// retries), then stops them.
func (n *notifier) close() {
	for _, h := range n.hooks {
		close(h.queue)
	}
	if n.stop != nil {
		go func() {
			n.wg.Wait()
			n.stop()
		}()
	}
}

func (n *notifier) enqueue(a Alert) {
	if len(n.hooks) == 0 {
		return
	}
	body, err := json.Marshal(Payload{Source: "aya", Status: a.State, Alert: a})
	if err != nil {
		n.log.Error("alert webhook: encode", "alert", a.Key, "error", err)
		return
	}
	for _, h := range n.hooks {
		select {
		case h.queue <- body:
		default:
			n.log.Error("alert webhook: queue full, alert dropped; is the receiver down?", "url", redact(h.cfg.URL), "alert", a.Key)
		}
	}
}

func (n *notifier) work(ctx context.Context, h *hook) {
	for body := range h.queue {
		if err := n.post(ctx, h.cfg, body); err != nil {
			n.log.Error("alert webhook: giving up", "url", redact(h.cfg.URL), "attempts", h.cfg.Retries+1, "error", err)
		}
	}
}

// post sends one payload, retrying network errors, 429 and 5xx with doubling waits.
func (n *notifier) post(ctx context.Context, w Webhook, body []byte) error {
	wait := 250 * time.Millisecond
	var err error
	for attempt := 0; attempt <= w.Retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(wait):
			}
			wait = min(2*wait, 5*time.Second)
		}
		var retry bool
		retry, err = n.try(ctx, w, body)
		if err == nil || !retry {
			return err
		}
	}
	return err
}

func (n *notifier) try(ctx context.Context, w Webhook, body []byte) (retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, w.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", w.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "aya-alerts")
	for k, v := range w.Headers {
		req.Header.Set(k, v)
	}
	resp, err := n.client.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a token
		}
		return true, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode < 300:
		return false, nil
	case resp.StatusCode == 429 || resp.StatusCode >= 500:
		return true, fmt.Errorf("receiver answered %d", resp.StatusCode)
	default:
		return false, fmt.Errorf("receiver answered %d; check the webhook url and headers", resp.StatusCode)
	}
}

// redact drops a URL's credentials and query for the log: webhook URLs often carry tokens.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid url)"
	}
	u.User = nil
	if u.RawQuery != "" {
		u.RawQuery = "redacted"
	}
	return u.String()
}
