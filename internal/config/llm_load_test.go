package config

import (
	"testing"
	"time"
)

// TestLLMMetrics: least_loaded models get their openai_compatible servers' /metrics derived
// from base_url; an explicit metrics block wins and gets a 1s default interval; providers no
// least_loaded model uses, and hosted APIs, are not scraped.
func TestLLMMetrics(t *testing.T) {
	const cfg = `listeners: [{name: web, address: "127.0.0.1:8080"}]
llm:
  providers:
    - {name: a, type: openai_compatible, base_url: "http://10.0.0.1:8000/v1"}
    - {name: b, type: openai_compatible, base_url: "http://10.0.0.2:8080", metrics: {url: "http://10.0.0.2:9090/metrics"}}
    - {name: c, type: openai_compatible, base_url: "http://10.0.0.3:8000/v1"}
    - {name: d, type: openai}
    - {name: e, type: openai_compatible, base_url: "http://10.0.0.4:8000/v1", metrics: {url: "http://10.0.0.4:8000/metrics", interval: 250ms}}
  models:
    - name: m
      strategy: least_loaded
      deployments: [{provider: a, model: x}, {provider: b, model: x}, {provider: d, model: x}, {provider: e, model: x}]
    - {name: n, deployments: [{provider: c, model: x}]}
`
	c, err := parse("aya.yaml", []byte(cfg), envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	want := []*LLMMetrics{
		{URL: "http://10.0.0.1:8000/metrics", Interval: Duration(time.Second)},
		{URL: "http://10.0.0.2:9090/metrics", Interval: Duration(time.Second)},
		nil,
		nil,
		{URL: "http://10.0.0.4:8000/metrics", Interval: Duration(250 * time.Millisecond)},
	}
	for i, w := range want {
		got := c.LLM.Providers[i].Metrics
		if (got == nil) != (w == nil) || got != nil && *got != *w {
			t.Errorf("provider %s: metrics %+v, want %+v", c.LLM.Providers[i].Name, got, w)
		}
	}
}
