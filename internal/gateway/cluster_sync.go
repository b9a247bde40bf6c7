package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"aya/internal/cluster"
)

// openClusterSync makes the LLM keys' budgets global: every node reserves and settles them in
// the cluster's Redis, and falls back to its own sums while Redis fails.
func (g *Gateway) openClusterSync(cs *clusterState) error {
	budgets := cluster.NewBudgets(cs.client, clusterPrefix, cs.cfg.Timeout.D(), cs.log)
	g.llm.ledger.SetBudgetStore(budgets)
	return g.metrics.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "aya_cluster_budget_errors_total",
		Help: "LLM budget reservations and settlements Redis failed: reservations this node then decided alone (per-node budgets), settlements whose holds stay counted until the period ends.",
	}, func() float64 { return float64(budgets.Errors()) }))
}
