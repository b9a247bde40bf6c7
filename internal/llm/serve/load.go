package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"sync/atomic"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Load is a self-hosted server's load as its last metrics scrape told it, for the least_loaded
// strategy. Deployments on one server share its Load. The zero value knows nothing.
type Load struct {
	score atomic.Uint64 // math.Float64bits of the score
	at    atomic.Int64  // unix nanoseconds of the scrape; 0: never scraped
	stale time.Duration // a score older than this is not trusted
}

// NewLoad is the load of a server scraped every interval; a scrape older than three intervals
// is ignored (the server stopped answering its metrics, or aya stopped asking).
func NewLoad(interval time.Duration) *Load { return &Load{stale: 3 * interval} }

// Score is the load (lower is less loaded) and whether it is known and fresh.
func (l *Load) Score(now time.Time) (float64, bool) {
	if l == nil {
		return 0, false
	}
	at := l.at.Load()
	if at == 0 || now.UnixNano()-at > int64(l.stale) {
		return 0, false
	}
	return math.Float64frombits(l.score.Load()), true
}

func (l *Load) set(score float64, now time.Time) {
	l.score.Store(math.Float64bits(score))
	l.at.Store(now.UnixNano())
}

// Weight of a waiting request against a running one: a queued request will wait behind
// every running one, so a queue says more about the wait than a full batch does.
const waitingWeight = 4

// LoadScore reads a server's load from its Prometheus text metrics: vLLM
// (vllm:num_requests_running, vllm:num_requests_waiting, vllm:gpu_cache_usage_perc),
// llama.cpp (llamacpp:requests_processing, llamacpp:requests_deferred) or TGI
// (tgi_batch_current_size, tgi_queue_size). The score is running + 4 × waiting, plus the KV
// cache usage (0–1) so that among equally busy servers the one with more cache left wins.
// Series with several labels (one per model) are summed. ok is false when no known family is
// present.
func LoadScore(r io.Reader) (score float64, ok bool, err error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return 0, false, fmt.Errorf("parsing the metrics: %w", err)
	}
	sum := func(name string) (float64, bool) {
		f, ok := fams[name]
		if !ok {
			return 0, false
		}
		var v float64
		for _, m := range f.GetMetric() {
			v += value(m)
		}
		return v, true
	}
	add := func(name string, weight float64) {
		if v, found := sum(name); found {
			score += weight * v
			ok = true
		}
	}
	add("vllm:num_requests_running", 1)
	add("vllm:num_requests_waiting", waitingWeight)
	if f, found := fams["vllm:gpu_cache_usage_perc"]; found && len(f.GetMetric()) > 0 {
		// One value per model on one GPU pool: the highest is the server's.
		var u float64
		for _, m := range f.GetMetric() {
			u = max(u, value(m))
		}
		score += min(u, 1)
		ok = true
	}
	add("llamacpp:requests_processing", 1)
	add("llamacpp:requests_deferred", waitingWeight)
	add("tgi_batch_current_size", 1)
	add("tgi_queue_size", waitingWeight)
	return score, ok, nil
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// Scraper polls one server's metrics into its Load until its context ends.
type Scraper struct {
	URL      string
	Interval time.Duration
	Load     *Load
	Client   *http.Client
	Log      *slog.Logger
}

// Run scrapes at once and then every Interval until ctx ends. A failed scrape leaves the last
// score to go stale; failures are logged once per change of state, so a server without metrics
// does not flood the log.
func (s *Scraper) Run(ctx context.Context) {
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	defer s.Client.CloseIdleConnections()
	failing := false
	for {
		err := s.scrape(ctx)
		switch {
		case err != nil && !failing && ctx.Err() == nil:
			s.Log.Warn("llm metrics scrape failed: least_loaded falls back to in-flight counts for this server", "url", s.URL, "error", err)
			failing = true
		case err == nil && failing:
			s.Log.Info("llm metrics scrape recovered", "url", s.URL)
			failing = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Scraper) scrape(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.Interval)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", s.URL, nil)
	if err != nil {
		return fmt.Errorf("metrics url %q: %w", s.URL, err)
	}
	req.Header.Set("Accept", "text/plain")
	resp, err := s.Client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s answered %s: check metrics.url (vLLM, llama.cpp with --metrics, TGI serve /metrics)", s.URL, resp.Status)
	}
	score, ok, err := LoadScore(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%s has none of the vLLM, llama.cpp or TGI load metrics", s.URL)
	}
	s.Load.set(score, time.Now())
	return nil
}
