package gateway

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"aya/internal/cluster"
	"aya/internal/llm/serve"
)

// llmLeasable is an LLM deployment pool's side of its cluster lease: the deployment's rpm or
// tpm is the cluster's, in units per second, like a TPS pool's capacity.
//
// A provider counts per minute, far longer than leaseHold, so the pool also reports what it
// admitted in its minute window (cluster.Usage): the other nodes' leases leave room for it
// until it has left the window, whether this node's lease shrank, was given back or lapsed. The
// pool admits only while its own window is within its lease × 60 s (token_pool.go's setLimit).
// Together: for each node, what it admitted in the last minute is at most the larger of its
// lease × 60 and what it reported, and those add up to at most the limit. In a cluster every
// rpm is such a pool too (serve.PoolOptions.Shared), so a share under one request a second
// still admits.
type llmLeasable struct{ p *serve.SharedPool }

// addLLMLeasables adds h's deployment pools to out, by their lease names.
func addLLMLeasables(out map[string]leasable, h *serve.Handler) {
	for _, p := range h.SharedPools() {
		out[p.Key] = llmLeasable{p}
	}
}

func (l llmLeasable) capacity() float64 { return l.p.PerMinute / 60 }

func (l llmLeasable) arrivals() (total, recent float64) { return l.p.Arrived(), 0 }

func (l llmLeasable) usage() cluster.Usage {
	return cluster.Usage{Used: l.p.Used() / 60, Window: l.p.Window()}
}

func (l llmLeasable) setCapacity(c float64) { l.p.SetShare(c * 60) }

func (l llmLeasable) inherit(old leasable) {
	if o, ok := old.(llmLeasable); ok {
		l.p.Inherit(o.p)
	}
}

func (l llmLeasable) tick() time.Duration { return l.p.Tick() }

// metric is the lease in the deployment limit's own unit, per minute.
func (l llmLeasable) metric(lease float64) prometheus.Metric {
	return prometheus.MustNewConstMetric(descLLMLease, prometheus.GaugeValue, lease*60,
		l.p.Model, l.p.ProviderModel, l.p.Provider, l.p.Limit)
}

var descLLMLease = desc("aya_llm_cluster_lease",
	"The part of an LLM deployment's rpm or tpm this node holds, per minute (its lease, or the fallback while Redis does not answer).",
	"llm_model", "model", "provider", "limit")
