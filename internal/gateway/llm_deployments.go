package gateway

import (
	"net/http"
	"time"
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
