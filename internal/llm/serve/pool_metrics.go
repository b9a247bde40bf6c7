package serve

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exports the deployments' token pools as Prometheus counters, by deployment
// (model: the provider's model id, provider) and tier: for a tpm pool the tokens admitted,
// queued (that had to wait, counted when they began to) and refused (the wait ended, the
// client left, pushed out of a full queue, the pools stopped), as aya_llm_pool_*_tokens_total;
// for a request pool (an rpm under 60, or any rpm in a cluster), the same in requests, as
// aya_llm_pool_*_requests_total. It is
// read at scrape time: admissions only add to the pool's own counters under the lock they
// already hold. One collector is registered once and follows the handler Track last gave it,
// so a reload (a new handler with fresh pools) restarts the counters, which Prometheus'
// rate() takes as a counter reset.
type PoolCollector struct {
	h     atomic.Pointer[Handler]
	descs [2][3]*prometheus.Desc // [tokens, requests][admitted, queued, refused]
}

// NewPoolCollector builds a collector that exports nothing until Track.
func NewPoolCollector() *PoolCollector {
	c := &PoolCollector{}
	labels := []string{"model", "provider", "tier"}
	for u, unit := range []string{"tokens", "requests"} {
		for o, outcome := range []struct{ name, help string }{
			{"admitted", "admitted by the deployment's pool"},
			{"queued", "that waited for the deployment's pool (counted when they began to wait)"},
			{"refused", "the deployment's pool did not admit (the wait ended, the client left, a more important call took the place in a full queue, or the pools stopped)"},
		} {
			what := "Estimated tokens of LLM calls "
			if unit == "requests" {
				what = "LLM calls to a deployment whose rpm is a request pool (under 60 rpm, or any rpm in a cluster) "
			}
			c.descs[u][o] = prometheus.NewDesc("aya_llm_pool_"+outcome.name+"_"+unit+"_total",
				what+outcome.help+", by deployment model, provider and tier (critical, high, medium, low, batch).", labels, nil)
		}
	}
	return c
}

// Track makes the collector export h's pools (nil: none).
func (c *PoolCollector) Track(h *Handler) { c.h.Store(h) }

// Describe sends the metrics' descriptions.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, ds := range c.descs {
		for _, d := range ds {
			ch <- d
		}
	}
}

// Collect sends every pool's counters.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	h := c.h.Load()
	if h == nil {
		return
	}
	seen := map[*Deployment]bool{}
	for _, name := range h.models {
		m, _ := h.router.Lookup(name)
		for _, d := range m.Deployments {
			if seen[d] || d.capacity == nil {
				continue
			}
			seen[d] = true
			for u, p := range []*tokenPool{d.capacity.tokens, d.capacity.requests} {
				if p == nil {
					continue
				}
				st := p.snapshot()
				for t, s := range st {
					tier := tierName(t)
					for o, v := range []float64{s.Admitted, s.Queued, s.Refused} {
						ch <- prometheus.MustNewConstMetric(c.descs[u][o], prometheus.CounterValue, v, d.Model, d.ProviderName, tier)
					}
				}
			}
		}
	}
}

// tierName names a pool tier as Class.Tier does.
func tierName(t int) string {
	if t == batchService {
		return tierBatch
	}
	return Priority(t - 2).String()
}
