package config

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// LLM configures the LLM gateway: the providers aya calls, the public model names clients ask
// for (each a set of deployments on providers), and the virtual keys clients authenticate with.
// Absent: no LLM endpoints.
type LLM struct {
	Line int `yaml:"-"`

	Providers []LLMProvider `yaml:"providers"`
	Models    []LLMModel    `yaml:"models"`
	// Keys are the virtual keys clients send (Authorization: Bearer or x-api-key). Empty: the
	// LLM endpoints are open to anyone who can reach the listener.
	Keys []LLMKey `yaml:"keys"`
	// DefaultMaxTokens is sent to providers that require max_tokens (Anthropic) when the
	// client gave none.
	DefaultMaxTokens int `yaml:"default_max_tokens" default:"4096"`
	// Cooldown keeps a deployment out of rotation after a failure; a 429's retry-after, when
	// longer, wins.
	Cooldown Duration `yaml:"cooldown" default:"5s"`
	// CooldownAfter is how many consecutive failures (5xx, overload, timeouts) put a deployment
	// or provider key in cooldown; a 429 or an auth/quota failure does at once.
	CooldownAfter int `yaml:"cooldown_after" default:"1"`
	// Listeners the endpoints serve on; empty: every listener.
	Listeners []string `yaml:"listeners"`
	// Cache answers exact repeats of deterministic requests (temperature 0, or a seed) from
	// memory; nil: no cache.
	Cache *LLMCache `yaml:"cache"`
	// Prompts are prompt templates served as REST endpoints.
	Prompts []LLMPrompt `yaml:"prompts"`
	// QueueTimeout is how long an interactive call waits for a saturated deployment's capacity
	// (the pools of deployments with rpm or tpm) before that deployment is skipped.
	QueueTimeout Duration `yaml:"queue_timeout" default:"2s"`
	// BatchTimeout is how long a batch call may wait for spare capacity in all, unless the
	// request sends its own x-aya-deadline.
	BatchTimeout Duration `yaml:"batch_timeout" default:"10m"`
}

// LLMCache bounds the response cache.
type LLMCache struct {
	TTL        Duration `yaml:"ttl" default:"10m"`
	MaxEntries int      `yaml:"max_entries" default:"10000"`
}

// LLM provider types.
const (
	LLMOpenAI           = "openai"
	LLMAnthropic        = "anthropic"
	LLMGemini           = "gemini"
	LLMOpenAICompatible = "openai_compatible"
)

var llmProviderTypes = []string{LLMOpenAI, LLMAnthropic, LLMGemini, LLMOpenAICompatible}

// LLM routing strategies.
const (
	LLMWeighted      = "weighted"
	LLMLeastBusy     = "least_busy"
	LLMLowestLatency = "lowest_latency"
	LLMLowestCost    = "lowest_cost"
	LLMUsageBased    = "usage_based"
	LLMLeastLoaded   = "least_loaded"
)

var llmStrategies = []string{LLMWeighted, LLMLeastBusy, LLMLowestLatency, LLMLowestCost, LLMUsageBased, LLMLeastLoaded}

// LLMProvider is one provider endpoint and the key aya uses with it.
type LLMProvider struct {
	Line int `yaml:"-"`

	Name string `yaml:"name"`
	Type string `yaml:"type"` // openai, anthropic, gemini or openai_compatible
	// BaseURL defaults to the provider's public API (https://api.openai.com/v1,
	// https://api.anthropic.com, https://generativelanguage.googleapis.com); openai_compatible
	// requires it. OpenAI-style URLs end in /v1,
	// as the OpenAI SDKs write them; Anthropic's do not.
	BaseURL string `yaml:"base_url"`
	APIKey  string `yaml:"api_key" secret:"true"` // usually ${ENV}
	// APIKeys are several keys for one provider (instead of api_key): calls spread over them,
	// and a key that is rate limited or out of quota sits out alone.
	APIKeys  []string          `yaml:"api_keys" secret:"true"`
	Headers  map[string]string `yaml:"headers"`
	Timeouts LLMTimeouts       `yaml:"timeouts"`
	// TLS is how an https base_url is verified (a private CA, a client certificate), as for
	// upstreams; nil: the system roots.
	TLS *UpstreamTLS `yaml:"tls"`
	// Metrics is where the server's Prometheus metrics are scraped for least_loaded. Absent on
	// an openai_compatible provider that a least_loaded model uses: base_url without /v1, plus
	// /metrics, every second.
	Metrics *LLMMetrics `yaml:"metrics"`
}

// LLMMetrics is a self-hosted server's metrics endpoint (vLLM, llama.cpp, TGI).
type LLMMetrics struct {
	URL      string   `yaml:"url"`
	Interval Duration `yaml:"interval"` // 0: 1s
}

// LLMTimeouts bound a provider call. Validation guarantees each is above 0.
type LLMTimeouts struct {
	Connect    Duration `yaml:"connect" default:"5s"`
	FirstToken Duration `yaml:"first_token" default:"60s"` // request sent → response head
	Total      Duration `yaml:"total" default:"10m"`       // the whole call, stream included
}

// LLMModel is a public model name and the deployments that serve it.
type LLMModel struct {
	Line int `yaml:"-"`

	Name        string          `yaml:"name"`
	Aliases     []string        `yaml:"aliases"`
	Strategy    string          `yaml:"strategy" default:"weighted"`
	Deployments []LLMDeployment `yaml:"deployments"`
	// Fallbacks are other models (names or aliases) tried in order when every deployment of
	// this one failed with a retryable error.
	Fallbacks []string `yaml:"fallbacks"`
	// FallbackOn are the error classes that move a call on to another deployment or model;
	// the others go back to the client at once. Absent: every class but content_policy (and
	// content_policy too when content_policy_fallbacks is set).
	FallbackOn []string `yaml:"fallback_on"`
	// ContextWindowFallbacks are models (names or aliases) tried when the prompt is too long
	// for this one; ContentPolicyFallbacks when its provider refused the prompt.
	ContextWindowFallbacks []string `yaml:"context_window_fallbacks"`
	ContentPolicyFallbacks []string `yaml:"content_policy_fallbacks"`
}

// LLM error classes for fallback_on (internal/llm's Class values).
const (
	LLMOnContextLength = "context_length"
	LLMOnContentPolicy = "content_policy"
)

// LLMFallbackClasses are the values of fallback_on.
var LLMFallbackClasses = []string{"rate_limit", "overloaded", "server_error", "timeout", "auth", LLMOnContextLength, LLMOnContentPolicy}

// LLMDeployment is a model on a provider.
type LLMDeployment struct {
	Line int `yaml:"-"`

	Provider string  `yaml:"provider"`
	Model    string  `yaml:"model"` // the provider's model id
	Weight   int     `yaml:"weight" default:"1"`
	Cost     LLMCost `yaml:"cost"`
	// ContextWindow keeps prompts estimated larger than it away; 0: unknown.
	ContextWindow int `yaml:"context_window"`
	// RPM and TPM are the provider's limits for this deployment (0: none known): at a limit it
	// is tried only as a last resort, and usage_based prefers the most headroom.
	RPM int `yaml:"rpm"`
	TPM int `yaml:"tpm"`
}

// LLMCost is the price of a deployment in US dollars per million tokens.
type LLMCost struct {
	Input  USD `yaml:"input"`
	Output USD `yaml:"output"`
}

// LLMKey is a virtual key.
type LLMKey struct {
	Line int `yaml:"-"`

	Key  string `yaml:"key" secret:"true"`
	Name string `yaml:"name"`
	// Models the key may use (names or aliases); empty: all.
	Models []string `yaml:"models"`
	RPM    int      `yaml:"rpm"` // requests per minute, 0: no limit
	TPM    int      `yaml:"tpm"` // tokens per minute (prompt + completion), 0: no limit
	// Budget caps what the key spends per day or month; nil: no budget.
	Budget *LLMBudget `yaml:"budget"`
	// Cache false keeps the key's calls out of the response cache (neither served from it nor
	// stored); nil: true.
	Cache *bool `yaml:"cache"`
	// Priority ranks the key's calls for a saturated deployment: critical, high, medium or low.
	Priority string `yaml:"priority" default:"medium"`
	// AllowPriorityHeader lets the key's calls choose their priority with x-aya-priority.
	AllowPriorityHeader bool `yaml:"allow_priority_header"`
	// Batch marks every call of the key as batch: it only uses spare capacity and waits (up to
	// batch_timeout) instead of being refused.
	Batch bool `yaml:"batch"`
}

// LLMPriorities are the values of llm.keys[].priority, most important first.
var LLMPriorities = []string{"critical", "high", "medium", "low"}

// LLMBudget caps a key's spending per calendar day or month (UTC). Calls are refused (429
// insufficient_quota) once the period's spending plus the call's estimate would pass a cap.
type LLMBudget struct {
	Tokens int    `yaml:"tokens"` // prompt + completion tokens, 0: no token cap
	USD    USD    `yaml:"usd"`    // dollars at the deployments' costs, 0: no dollar cap
	Period string `yaml:"period" default:"month"`
}

// USD is an amount of US dollars, written as a number.
type USD float64

// UnmarshalText parses an amount.
func (u *USD) UnmarshalText(b []byte) error {
	s := strings.TrimPrefix(strings.TrimSpace(string(b)), "$")
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return fmt.Errorf("invalid amount %q: want a non-negative number of US dollars, like 2.5", string(b))
	}
	*u = USD(f)
	return nil
}

// MarshalText writes the amount.
func (u USD) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(u), 'g', -1, 64)), nil
}

func (v *validator) llm(cfg *Config) {
	l := cfg.LLM
	if l == nil {
		return
	}
	if l.DefaultMaxTokens <= 0 {
		v.errAt("llm.default_max_tokens", l.Line, "llm: default_max_tokens must be above 0")
	}
	if l.Cooldown.D() < 0 {
		v.errAt("llm.cooldown", l.Line, "llm: cooldown must not be negative")
	}
	if l.CooldownAfter < 1 {
		v.errAt("llm.cooldown_after", l.Line, "llm: cooldown_after must be at least 1 (failures in a row before a cooldown)")
	}
	if l.QueueTimeout.D() <= 0 {
		v.errAt("llm.queue_timeout", l.Line, "llm: queue_timeout must be more than 0, like 2s")
	}
	if l.BatchTimeout.D() <= 0 {
		v.errAt("llm.batch_timeout", l.Line, "llm: batch_timeout must be more than 0, like 10m")
	}
	if c := l.Cache; c != nil {
		if c.TTL.D() <= 0 {
			v.errAt("llm.cache.ttl", l.Line, "llm: cache.ttl must be more than 0, like 10m")
		}
		if c.MaxEntries <= 0 {
			v.errAt("llm.cache.max_entries", l.Line, "llm: cache.max_entries must be above 0, like 10000")
		}
	}
	for i, name := range l.Listeners {
		if !slices.ContainsFunc(cfg.Listeners, func(li Listener) bool { return li.Name == name }) {
			v.errAt(fmt.Sprintf("llm.listeners[%d]", i), l.Line, "llm: listener %q is not defined under listeners", name)
		}
	}
	provs := map[string]int{}
	var provNames []string
	for i := range l.Providers {
		p := &l.Providers[i]
		path := fmt.Sprintf("llm.providers[%d]", i)
		if v.bad[path] {
			continue
		}
		v.name("llm provider", p.Name, i, path, p.Line, provs)
		provNames = append(provNames, p.Name)
		ctx := objName("llm provider", p.Name, i)
		switch p.Type {
		case LLMOpenAI:
			if p.BaseURL == "" {
				p.BaseURL = "https://api.openai.com/v1"
			}
		case LLMAnthropic:
			if p.BaseURL == "" {
				p.BaseURL = "https://api.anthropic.com"
			}
		case LLMGemini:
			if p.BaseURL == "" {
				p.BaseURL = "https://generativelanguage.googleapis.com"
			}
		case LLMOpenAICompatible:
			if p.BaseURL == "" {
				v.errAt(path+".base_url", p.Line, "%s: base_url is required for openai_compatible, like http://127.0.0.1:8000/v1", ctx)
			}
		default:
			v.errAt(path+".type", p.Line, "%s: unknown type %q: use %s%s", ctx, p.Type, strings.Join(llmProviderTypes, ", "), didYouMean(p.Type, llmProviderTypes))
		}
		if p.BaseURL != "" {
			u, err := url.Parse(p.BaseURL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				v.errAt(path+".base_url", p.Line, "%s: base_url %q: write an http:// or https:// URL, like https://api.openai.com/v1", ctx, p.BaseURL)
			}
			p.BaseURL = strings.TrimSuffix(p.BaseURL, "/")
		}
		v.llmAPIKeys(p, path, ctx)
		if p.TLS != nil {
			v.upstreamTLS(p.TLS, path+".tls", ctx)
		}
		v.positiveTimeouts(p.Timeouts, path+".timeouts", ctx, p.Line)
		if m := p.Metrics; m != nil {
			v.llmMetrics(m, path+".metrics", ctx, p.Line)
		}
	}
	// Every name and alias resolves to one model.
	public := map[string]string{}
	for i := range l.Models {
		m := &l.Models[i]
		path := fmt.Sprintf("llm.models[%d]", i)
		if m.Name == "" {
			v.errAt(path+".name", m.Line, "%s: name is required: the model id clients send", objName("llm model", "", i))
			continue
		}
		for j, n := range append([]string{m.Name}, m.Aliases...) {
			np := path + ".name"
			if j > 0 {
				np = fmt.Sprintf("%s.aliases[%d]", path, j-1)
			}
			if other, dup := public[n]; dup {
				v.errAt(np, m.Line, "llm model %q: %q is already a name or alias of model %q", m.Name, n, other)
				continue
			}
			public[n] = m.Name
		}
	}
	var publicNames []string
	for n := range public {
		publicNames = append(publicNames, n)
	}
	slices.Sort(publicNames)
	for i := range l.Models {
		m := &l.Models[i]
		path := fmt.Sprintf("llm.models[%d]", i)
		ctx := objName("llm model", m.Name, i)
		if !slices.Contains(llmStrategies, m.Strategy) {
			v.errAt(path+".strategy", m.Line, "%s: unknown strategy %q: use %s%s", ctx, m.Strategy, strings.Join(llmStrategies, ", "), didYouMean(m.Strategy, llmStrategies))
		}
		if len(m.Deployments) == 0 {
			v.errAt(path+".deployments", m.Line, "%s: deployments is empty: add at least one {provider: NAME, model: PROVIDER_MODEL_ID}", ctx)
		}
		for j := range m.Deployments {
			d := &m.Deployments[j]
			dp := fmt.Sprintf("%s.deployments[%d]", path, j)
			if v.bad[dp] {
				continue
			}
			dctx := fmt.Sprintf("%s deployment #%d", ctx, j+1)
			if _, ok := provs[d.Provider]; !ok {
				v.errAt(dp+".provider", d.Line, "%s: provider %q is not defined under llm.providers%s", dctx, d.Provider, didYouMean(d.Provider, provNames))
			}
			if d.Model == "" {
				v.errAt(dp+".model", d.Line, "%s: model is required: the provider's model id", dctx)
			}
			if d.Weight < 0 {
				v.errAt(dp+".weight", d.Line, "%s: weight must not be negative", dctx)
			}
			if d.ContextWindow < 0 || d.RPM < 0 || d.TPM < 0 {
				v.errf(d.Line, "%s: context_window, rpm and tpm must not be negative", dctx)
			}
		}
		v.llmFallbacks(m, path, ctx, public, publicNames)
	}
	deriveLLMMetrics(l)
	v.llmPrompts(l, public, publicNames)
	keys := map[string]int{}
	for i := range l.Keys {
		k := &l.Keys[i]
		path := fmt.Sprintf("llm.keys[%d]", i)
		ctx := objName("llm key", k.Name, i)
		if k.Key == "" {
			v.errAt(path+".key", k.Line, "%s: key is required (for example key: ${AYA_KEY_TEAM_A})", ctx)
		} else if first, dup := keys[k.Key]; dup {
			v.errAt(path+".key", k.Line, "%s: the same key is already defined at line %d", ctx, first)
		} else {
			keys[k.Key] = v.line(path+".key", k.Line)
		}
		for j, m := range k.Models {
			if _, ok := public[m]; !ok {
				v.errAt(fmt.Sprintf("%s.models[%d]", path, j), k.Line, "%s: model %q is not a model name or alias under llm.models%s", ctx, m, didYouMean(m, publicNames))
			}
		}
		if k.RPM < 0 || k.TPM < 0 {
			v.errf(k.Line, "%s: rpm and tpm must not be negative", ctx)
		}
		if !slices.Contains(LLMPriorities, k.Priority) {
			v.errAt(path+".priority", k.Line, "%s: unknown priority %q: use %s%s", ctx, k.Priority, strings.Join(LLMPriorities, ", "), didYouMean(k.Priority, LLMPriorities))
		}
		if b := k.Budget; b != nil {
			if b.Period != "day" && b.Period != "month" {
				v.errAt(path+".budget.period", k.Line, "%s: budget.period %q: use day or month", ctx, b.Period)
			}
			if b.Tokens < 0 {
				v.errAt(path+".budget.tokens", k.Line, "%s: budget.tokens must not be negative", ctx)
			}
			if b.Tokens == 0 && b.USD == 0 {
				v.errAt(path+".budget", k.Line, "%s: budget sets neither tokens nor usd: set one, or remove budget", ctx)
			}
		}
	}
}

func (v *validator) llmMetrics(m *LLMMetrics, path, ctx string, line int) {
	if m.Interval == 0 {
		m.Interval = Duration(time.Second)
	}
	u, err := url.Parse(m.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errAt(path+".url", line, "%s: metrics.url %q: write an http:// or https:// URL, like http://10.0.0.5:8000/metrics", ctx, m.URL)
	}
}

// deriveLLMMetrics gives every openai_compatible provider a least_loaded model uses its
// server's /metrics, where vLLM, llama.cpp (--metrics) and TGI serve them, unless one is set.
func deriveLLMMetrics(l *LLM) {
	used := map[string]bool{}
	for _, m := range l.Models {
		if m.Strategy == LLMLeastLoaded {
			for _, d := range m.Deployments {
				used[d.Provider] = true
			}
		}
	}
	for i := range l.Providers {
		p := &l.Providers[i]
		if p.Metrics != nil || !used[p.Name] || p.Type != LLMOpenAICompatible || p.BaseURL == "" {
			continue
		}
		p.Metrics = &LLMMetrics{URL: strings.TrimSuffix(p.BaseURL, "/v1") + "/metrics", Interval: Duration(time.Second)}
	}
}
