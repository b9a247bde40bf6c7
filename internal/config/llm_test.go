package config

import (
	"strings"
	"testing"
)

const llmGood = `listeners:
  - {name: web, address: "127.0.0.1:8080"}
llm:
  providers:
    - {name: oa, type: openai, api_key: "${OPENAI_KEY}"}
    - {name: an, type: anthropic, api_key: "${ANTHROPIC_KEY}", timeouts: {first_token: 20s}}
    - {name: local, type: openai_compatible, base_url: "http://127.0.0.1:8000/v1/"}
    - {name: g, type: gemini}
  models:
    - name: gpt-4o
      aliases: [smart]
      deployments:
        - {provider: oa, model: gpt-4o-2024-08-06, weight: 3, cost: {input: 2.5, output: 10}}
        - {provider: local, model: llama}
      fallbacks: [claude]
    - name: claude
      strategy: lowest_cost
      deployments: [{provider: an, model: claude-sonnet-4-5}]
  keys:
    - {key: "${TEAM_KEY}", name: team-a, models: [smart], rpm: 60, budget: {usd: 12.5}}
`

func TestLLMGood(t *testing.T) {
	cfg, err := parse("aya.yaml", []byte(llmGood), envMap(map[string]string{"OPENAI_KEY": "sk-1", "ANTHROPIC_KEY": "sk-2", "TEAM_KEY": "k"}))
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.LLM
	if l == nil || len(l.Providers) != 4 || len(l.Models) != 2 || len(l.Keys) != 1 {
		t.Fatalf("%+v", l)
	}
	if l.Providers[0].BaseURL != "https://api.openai.com/v1" || l.Providers[1].BaseURL != "https://api.anthropic.com" || l.Providers[2].BaseURL != "http://127.0.0.1:8000/v1" || l.Providers[3].BaseURL != "https://generativelanguage.googleapis.com" {
		t.Fatalf("base URLs: %+v", l.Providers)
	}
	if l.Providers[1].Timeouts.FirstToken.D().Seconds() != 20 || l.Providers[0].Timeouts.Total.D().Minutes() != 10 || l.Providers[0].APIKey != "sk-1" {
		t.Fatalf("timeouts/key: %+v", l.Providers)
	}
	m := l.Models[0]
	if m.Strategy != "weighted" || m.Deployments[0].Weight != 3 || m.Deployments[1].Weight != 1 || m.Deployments[0].Cost.Output != 10 {
		t.Fatalf("model: %+v", m)
	}
	if b := l.Keys[0].Budget; b == nil || b.USD != 12.5 || b.Period != "month" {
		t.Fatalf("budget: %+v", b)
	}
	if l.DefaultMaxTokens != 4096 || l.Cooldown.D().Seconds() != 5 {
		t.Fatalf("defaults: %+v", l)
	}
}

func TestLLMBad(t *testing.T) {
	tests := []struct{ yaml, want string }{
		{"llm:\n  providers:\n    - {name: x, type: gemeni}\n", `aya.yaml:3: llm provider "x": unknown type "gemeni"`},
		{"llm:\n  providers:\n    - {name: x, type: openai_compatible}\n", `aya.yaml:3: llm provider "x": base_url is required`},
		{"llm:\n  providers:\n    - {name: x, type: openai, base_url: \"ftp://h\"}\n", `aya.yaml:3: llm provider "x": base_url "ftp://h"`},
		{"llm:\n  models:\n    - name: m\n      deployments: [{provider: nope, model: x}]\n", `aya.yaml:4: llm model "m" deployment #1: provider "nope" is not defined`},
		{"llm:\n  models:\n    - name: m\n      strategy: fastest\n      deployments: []\n", `aya.yaml:4: llm model "m": unknown strategy "fastest"`},
		{"llm:\n  models:\n    - name: m\n      deployments: []\n", `llm model "m": deployments is empty`},
		{"llm:\n  models:\n    - {name: m, aliases: [a], deployments: []}\n    - {name: a, deployments: []}\n", `llm model "a": "a" is already a name or alias of model "m"`},
		{"llm:\n  models:\n    - {name: m, fallbacks: [z], deployments: []}\n", `fallback "z" is not a model name or alias`},
		{"llm:\n  keys:\n    - {key: k, models: [z]}\n    - {key: k}\n", `aya.yaml:4: llm key #2: the same key is already defined at line 3`},
		{"llm:\n  providers:\n    - {name: x, type: openai, timeouts: {total: 0s}}\n", `total must be more than 0`},
		{"llm:\n  keys:\n    - {key: k, budget: {tokens: 5, period: week}}\n", `aya.yaml:3: llm key #1: budget.period "week": use day or month`},
		{"llm:\n  keys:\n    - {key: k, budget: {period: day}}\n", `budget sets neither tokens nor usd`},
		{"llm:\n  cache: {ttl: 0s}\n", `llm: cache.ttl must be more than 0`},
		{"llm:\n  cache: {max_entries: -1}\n", `llm: cache.max_entries must be above 0`},
		{"llm:\n  providers:\n    - {name: x, type: openai, metrics: {url: \"10.0.0.1/metrics\"}}\n", `aya.yaml:3: llm provider "x": metrics.url "10.0.0.1/metrics"`},
		{"llm:\n  providers:\n    - {name: x, type: openai, metrics: {url: \"http://h/metrics\", interval: -1s}}\n", `interval: invalid duration "-1s": must not be negative`},
		{"llm:\n  providers:\n    - name: x\n      type: openai\n      tls: {ca: /nonexistent/ca.pem}\n", `aya.yaml:5: llm provider "x": ca: `},
		{"llm:\n  providers:\n    - name: x\n      type: openai\n      tls: {key: k.pem}\n", `aya.yaml:5: llm provider "x": key without cert`},
	}
	for _, tt := range tests {
		_, err := parse("aya.yaml", []byte(tt.yaml), noEnv)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q:\ngot  %v\nwant %s", tt.yaml, err, tt.want)
		}
	}
}
