package gateway

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// handleLLMDeployments answers GET /llm/deployments: each deployment's in-flight calls and
// cooldown, and each provider key's (by its label, never the secret).
func (g *Gateway) handleLLMDeployments(w http.ResponseWriter, r *http.Request) {
	s := g.snap.Load()
	if s.llm == nil {
		adminError(w, 404, "no llm: section in the config: the LLM gateway is off")
		return
	}
	writeJSON(w, 200, map[string]any{"deployments": s.llm.Deployments(time.Now())})
}

var (
	descLLMInFlight  = desc("aya_llm_deployment_in_flight", "LLM calls in flight at the deployment.", "model", "provider", "deployment")
	descLLMCooling   = desc("aya_llm_deployment_cooling", "1 while the deployment sits out after failures (or all its provider keys do).", "model", "provider", "deployment")
	descLLMKeyCooled = desc("aya_llm_provider_key_cooling", "1 while one of the deployment's provider keys sits out (rate limited, out of quota, refused); key is its label, never the secret.", "model", "provider", "deployment", "key")
)

// llmDeploymentCollector reports the live LLM deployments' routing state at scrape time.
type llmDeploymentCollector struct{ g *Gateway }

func (llmDeploymentCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descLLMInFlight
	ch <- descLLMCooling
	ch <- descLLMKeyCooled
}

func (c llmDeploymentCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.g.snap.Load()
	if s == nil || s.llm == nil {
		return
	}
	for _, d := range s.llm.Deployments(time.Now()) {
		ch <- prometheus.MustNewConstMetric(descLLMInFlight, prometheus.GaugeValue, float64(d.InFlight), d.Model, d.Provider, d.Deployment)
		ch <- prometheus.MustNewConstMetric(descLLMCooling, prometheus.GaugeValue, b2f(d.Cooling), d.Model, d.Provider, d.Deployment)
		for _, k := range d.Keys {
			ch <- prometheus.MustNewConstMetric(descLLMKeyCooled, prometheus.GaugeValue, b2f(k.CoolingUntil != nil), d.Model, d.Provider, d.Deployment, k.Key)
		}
	}
}
