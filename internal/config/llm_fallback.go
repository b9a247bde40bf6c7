package config

import (
	"fmt"
	"slices"
	"strings"
)

// llmFallbacks checks a model's fallback lists and rules, and fills fallback_on's default.
func (v *validator) llmFallbacks(m *LLMModel, path, ctx string, public map[string]string, publicNames []string) {
	for _, list := range []struct {
		key, what string
		names     []string
	}{{"fallbacks", "fallback", m.Fallbacks}, {"context_window_fallbacks", "context-window fallback", m.ContextWindowFallbacks},
		{"content_policy_fallbacks", "content-policy fallback", m.ContentPolicyFallbacks}} {
		for j, f := range list.names {
			fp := fmt.Sprintf("%s.%s[%d]", path, list.key, j)
			target, ok := public[f]
			switch {
			case !ok:
				v.errAt(fp, m.Line, "%s: %s %q is not a model name or alias under llm.models%s", ctx, list.what, f, didYouMean(f, publicNames))
			case target == m.Name:
				v.errAt(fp, m.Line, "%s: %s %q is the model itself", ctx, list.what, f)
			}
		}
	}
	if m.FallbackOn == nil {
		m.FallbackOn = slices.DeleteFunc(slices.Clone(LLMFallbackClasses), func(c string) bool { return c == LLMOnContentPolicy })
		if len(m.ContentPolicyFallbacks) > 0 {
			m.FallbackOn = append(m.FallbackOn, LLMOnContentPolicy)
		}
		return
	}
	for j, c := range m.FallbackOn {
		if !slices.Contains(LLMFallbackClasses, c) {
			v.errAt(fmt.Sprintf("%s.fallback_on[%d]", path, j), m.Line, "%s: unknown error class %q in fallback_on: use %s%s", ctx, c, strings.Join(LLMFallbackClasses, ", "), didYouMean(c, LLMFallbackClasses))
		}
	}
	if len(m.ContextWindowFallbacks) > 0 && !slices.Contains(m.FallbackOn, LLMOnContextLength) {
		v.errAt(path+".fallback_on", m.Line, "%s: context_window_fallbacks is set but fallback_on does not list context_length: add it, or remove context_window_fallbacks", ctx)
	}
	if len(m.ContentPolicyFallbacks) > 0 && !slices.Contains(m.FallbackOn, LLMOnContentPolicy) {
		v.errAt(path+".fallback_on", m.Line, "%s: content_policy_fallbacks is set but fallback_on does not list content_policy: add it, or remove content_policy_fallbacks", ctx)
	}
}

// llmAPIKeys checks api_keys: an alternative to api_key, each key set and different.
func (v *validator) llmAPIKeys(p *LLMProvider, path, ctx string) {
	if len(p.APIKeys) == 0 {
		return
	}
	if p.APIKey != "" {
		v.errAt(path+".api_keys", p.Line, "%s: api_key and api_keys are both set: keep one (api_keys: [\"${KEY_1}\", \"${KEY_2}\"] for several)", ctx)
	}
	for j, k := range p.APIKeys {
		kp := fmt.Sprintf("%s.api_keys[%d]", path, j)
		switch {
		case k == "":
			v.errAt(kp, p.Line, "%s: api_keys[%d] is empty (an unset ${ENV}?): set it or remove the entry", ctx, j)
		case slices.Contains(p.APIKeys[:j], k):
			v.errAt(kp, p.Line, "%s: api_keys[%d] repeats an earlier key: each key is its own quota, list it once", ctx, j)
		}
	}
}
