package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// policyMetrics are the policies' families on the admin /metrics: rate-limit refusals counted
// as they happen (per route, a label set the config bounds), and the response cache's counters
// read from its store at scrape time.
type policyMetrics struct {
	limited *prometheus.CounterVec // route, limit
	cache   *cacheState
}

var (
	cacheRequestsDesc = prometheus.NewDesc("aya_cache_requests_total",
		"Requests the response cache answered or passed, by result: hit (fresh or revalidated), miss, stale (served stale while revalidating or on an upstream error), bypass (not cacheable).",
		[]string{"result"}, nil)
	cacheEntriesDesc = prometheus.NewDesc("aya_cache_entries", "Responses held by the response cache.", nil, nil)
	cacheBytesDesc   = prometheus.NewDesc("aya_cache_bytes", "Bytes held by the response cache (its max_size bounds them).", nil, nil)
)

func newPolicyMetrics(cache *cacheState) *policyMetrics {
	return &policyMetrics{
		limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aya_rate_limit_rejections_total",
			Help: "Requests a rate_limit policy refused with 429, by route and by which limit refused (rate or quota).",
		}, []string{"route", "limit"}),
		cache: cache,
	}
}

// collectors are what the gateway registers on its registry.
func (m *policyMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.limited, cacheCollector{m.cache}}
}

// onLimited is a rate_limit policy's OnLimited hook for route, with its label values resolved
// once, when the policy is built.
func (m *policyMetrics) onLimited(route string) func(quota bool) {
	rate, quota := m.limited.WithLabelValues(route, "rate"), m.limited.WithLabelValues(route, "quota")
	return func(q bool) {
		if q {
			quota.Inc()
			return
		}
		rate.Inc()
	}
}

// cacheCollector reads the cache store's counters on scrape; nothing is reported before a
// cache policy created the store.
type cacheCollector struct{ c *cacheState }

func (cc cacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- cacheRequestsDesc
	ch <- cacheEntriesDesc
	ch <- cacheBytesDesc
}

func (cc cacheCollector) Collect(ch chan<- prometheus.Metric) {
	cc.c.mu.Lock()
	s := cc.c.store
	cc.c.mu.Unlock()
	if s == nil {
		return
	}
	st := s.Stats()
	for _, r := range []struct {
		name string
		n    uint64
	}{{"hit", st.Hits}, {"miss", st.Misses}, {"stale", st.Stale}, {"bypass", st.Bypass}} {
		ch <- prometheus.MustNewConstMetric(cacheRequestsDesc, prometheus.CounterValue, float64(r.n), r.name)
	}
	ch <- prometheus.MustNewConstMetric(cacheEntriesDesc, prometheus.GaugeValue, float64(st.Entries))
	ch <- prometheus.MustNewConstMetric(cacheBytesDesc, prometheus.GaugeValue, float64(st.Bytes))
}
