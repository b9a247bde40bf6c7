package llmdemo

import (
	"fmt"
	"net/http"
	"strings"
)

// serveMetrics exposes the load of an OpenAI-compatible server in Prometheus text format under
// vLLM's names and llama.cpp's, read at scrape time from the live counters, so a gateway's
// least-loaded routing sees the real in-flight work.
func (s *Server) serveMetrics(w http.ResponseWriter, _ *http.Request) {
	running, waiting := s.running.Load(), s.waiting.Load()
	usage := min(float64(s.kvTokens.Load())/float64(s.opt.KVCacheTokens), 1)
	var b strings.Builder
	gauge := func(name, help string, v float64) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name)
		for _, m := range s.opt.Models {
			fmt.Fprintf(&b, "%s{model_name=%q} %g\n", name, m, v)
		}
	}
	gauge("vllm:num_requests_running", "Number of requests currently running on GPU.", float64(running))
	gauge("vllm:num_requests_waiting", "Number of requests waiting to be processed.", float64(waiting))
	gauge("vllm:gpu_cache_usage_perc", "GPU KV-cache usage. 1 means 100 percent usage.", usage)
	fmt.Fprintf(&b, "# HELP llamacpp:requests_processing Number of requests processing.\n# TYPE llamacpp:requests_processing gauge\nllamacpp:requests_processing %d\n", running)
	fmt.Fprintf(&b, "# HELP llamacpp:requests_deferred Number of requests deferred.\n# TYPE llamacpp:requests_deferred gauge\nllamacpp:requests_deferred %d\n", waiting)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
