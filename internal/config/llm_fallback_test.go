package config

import (
	"slices"
	"strings"
	"testing"
)

const llmFallbackGood = `listeners: [{name: web, address: "127.0.0.1:8080"}]
llm:
  cooldown_after: 3
  providers:
    - {name: oa, type: openai, api_keys: ["${K1}", "${K2}"]}
  models:
    - {name: small, deployments: [{provider: oa, model: gpt-4o-mini}], context_window_fallbacks: [big], content_policy_fallbacks: [big]}
    - {name: big, deployments: [{provider: oa, model: gpt-4o}], fallback_on: [rate_limit, overloaded]}
`

func TestLLMFallbackGood(t *testing.T) {
	cfg, err := parse("aya.yaml", []byte(llmFallbackGood), envMap(map[string]string{"K1": "sk-1", "K2": "sk-2"}))
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.LLM
	if l.CooldownAfter != 3 || !slices.Equal(l.Providers[0].APIKeys, []string{"sk-1", "sk-2"}) {
		t.Fatalf("cooldown_after/api_keys: %+v", l)
	}
	small, big := l.Models[0], l.Models[1]
	// Absent fallback_on: every class but content_policy, which content_policy_fallbacks adds.
	if want := []string{"rate_limit", "overloaded", "server_error", "timeout", "auth", "context_length", "content_policy"}; !slices.Equal(small.FallbackOn, want) {
		t.Errorf("small fallback_on = %v, want %v", small.FallbackOn, want)
	}
	if !slices.Equal(big.FallbackOn, []string{"rate_limit", "overloaded"}) || !slices.Equal(small.ContextWindowFallbacks, []string{"big"}) {
		t.Errorf("big: %+v small: %+v", big, small)
	}
	cfg, err = parse("aya.yaml", []byte("listeners: [{name: web, address: \"127.0.0.1:8080\"}]\nllm:\n  models:\n    - {name: m, deployments: [{provider: oa, model: x}]}\n  providers: [{name: oa, type: openai}]\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.LLM; l.CooldownAfter != 1 || slices.Contains(l.Models[0].FallbackOn, "content_policy") || len(l.Models[0].FallbackOn) != 6 {
		t.Errorf("defaults: cooldown_after %d, fallback_on %v", l.CooldownAfter, l.Models[0].FallbackOn)
	}
}

func TestLLMFallbackBad(t *testing.T) {
	const prov = "  providers: [{name: oa, type: openai}]\n"
	tests := []struct{ yaml, want string }{
		{"llm:\n" + prov + "  models:\n    - name: m\n      deployments: [{provider: oa, model: x}]\n      fallback_on: [rate_limit, ratelimit]\n", `aya.yaml:6: llm model "m": unknown error class "ratelimit" in fallback_on`},
		{"llm:\n" + prov + "  models:\n    - name: m\n      deployments: [{provider: oa, model: x}]\n      context_window_fallbacks: [nope]\n", `aya.yaml:6: llm model "m": context-window fallback "nope" is not a model name or alias`},
		{"llm:\n" + prov + "  models:\n    - name: m\n      deployments: [{provider: oa, model: x}]\n      content_policy_fallbacks: [m]\n", `aya.yaml:6: llm model "m": content-policy fallback "m" is the model itself`},
		{"llm:\n" + prov + "  models:\n    - {name: m, deployments: [{provider: oa, model: x}], content_policy_fallbacks: [n], fallback_on: [rate_limit]}\n    - {name: n, deployments: [{provider: oa, model: y}]}\n", `llm model "m": content_policy_fallbacks is set but fallback_on does not list content_policy`},
		{"llm:\n" + prov + "  models:\n    - {name: m, deployments: [{provider: oa, model: x}], context_window_fallbacks: [n], fallback_on: []}\n    - {name: n, deployments: [{provider: oa, model: y}]}\n", `context_window_fallbacks is set but fallback_on does not list context_length`},
		{"llm:\n  providers:\n    - name: oa\n      type: openai\n      api_key: a\n      api_keys: [b, c]\n", `aya.yaml:6: llm provider "oa": api_key and api_keys are both set`},
		{"llm:\n  providers:\n    - name: oa\n      type: openai\n      api_keys: [b, b]\n", `aya.yaml:5: llm provider "oa": api_keys[1] repeats an earlier key`},
		{"llm:\n  providers:\n    - name: oa\n      type: openai\n      api_keys: [b, \"\"]\n", `api_keys[1] is empty`},
		{"llm:\n  cooldown_after: 0\n", `aya.yaml:2: llm: cooldown_after must be at least 1`},
	}
	for _, tt := range tests {
		_, err := parse("aya.yaml", []byte(tt.yaml), noEnv)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q:\ngot  %v\nwant %s", tt.yaml, err, tt.want)
		}
	}
}
