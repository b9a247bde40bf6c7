package gateway

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"

	"aya/internal/config"
	"aya/internal/llm/provider"
	"aya/internal/llm/provider/anthropic"
	"aya/internal/llm/provider/gemini"
	"aya/internal/llm/provider/openai"
	"aya/internal/llm/serve"
)

// buildLLM turns the llm: section into the handler for the LLM API endpoints. Validation has
// already checked every reference, so the only failures left are programming errors.
func buildLLM(cfg *config.Config, st *llmState, log *slog.Logger) (*serve.Handler, error) {
	l := cfg.LLM
	provs := make(map[string]serve.Provider, len(l.Providers))
	keyed := map[string][]*serve.ProviderKey{} // providers with api_keys: one adapter per key
	loads := map[string]*serve.Load{}
	var scrapers []*serve.Scraper
	for _, p := range l.Providers {
		var tc *tls.Config
		if p.TLS != nil {
			var err error
			// The server name defaults to the base URL's (or the metrics URL's) host.
			if tc, err = clientTLS(p.TLS, fmt.Sprintf("llm provider %q", p.Name), "", log); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", cfg.File, p.TLS.Line, err)
			}
		}
		if m := p.Metrics; m != nil {
			ld := serve.NewLoad(m.Interval.D())
			loads[p.Name] = ld
			scrapers = append(scrapers, &serve.Scraper{URL: m.URL, Interval: m.Interval.D(), Load: ld,
				Client: &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 1, TLSClientConfig: tc}},
				Log:    log.With("component", "llm", "provider", p.Name)})
		}
		o := provider.Options{
			BaseURL:   p.BaseURL,
			Connect:   p.Timeouts.Connect.D(),
			FirstByte: p.Timeouts.FirstToken.D(),
			Total:     p.Timeouts.Total.D(),
			TLS:       tc,
		}
		for _, f := range sortedFields(p.Headers) {
			o.Headers = append(o.Headers, provider.Header{Name: f.Name, Value: f.Value})
		}
		adapter := func(key string) (serve.Provider, error) {
			switch p.Type {
			case config.LLMAnthropic:
				return anthropic.New(o, key, l.DefaultMaxTokens), nil
			case config.LLMGemini:
				return gemini.New(o, key), nil
			case config.LLMOpenAI, config.LLMOpenAICompatible:
				return openai.New(o, key), nil
			}
			return nil, fmt.Errorf("%s:%d: llm provider %q: unknown type %q", cfg.File, p.Line, p.Name, p.Type)
		}
		if len(p.APIKeys) == 0 {
			a, err := adapter(p.APIKey)
			if err != nil {
				return nil, err
			}
			provs[p.Name] = a
			continue
		}
		for i, k := range p.APIKeys {
			a, err := adapter(k)
			if err != nil {
				return nil, err
			}
			keyed[p.Name] = append(keyed[p.Name], &serve.ProviderKey{Provider: a, Label: serve.KeyLabel(i, k)})
		}
		provs[p.Name] = keyed[p.Name][0].Provider
	}
	models := make([]*serve.Model, len(l.Models))
	byName := map[string]*serve.Model{}
	aliases := map[string]*serve.Model{}
	for i, mc := range l.Models {
		m := &serve.Model{Name: mc.Name, Strategy: mc.Strategy}
		on, err := serve.ParseClasses(mc.FallbackOn)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: llm model %q: %w", cfg.File, mc.Line, mc.Name, err)
		}
		m.FallbackOn = on
		for _, dc := range mc.Deployments {
			var keys []*serve.ProviderKey // each deployment's keys cool down on their own
			for _, k := range keyed[dc.Provider] {
				keys = append(keys, &serve.ProviderKey{Provider: k.Provider, Label: k.Label})
			}
			m.Deployments = append(m.Deployments, &serve.Deployment{
				Keys:          keys,
				Provider:      provs[dc.Provider],
				ProviderName:  dc.Provider,
				Model:         dc.Model,
				Weight:        dc.Weight,
				InputCost:     float64(dc.Cost.Input),
				OutputCost:    float64(dc.Cost.Output),
				ContextWindow: dc.ContextWindow,
				RPM:           dc.RPM,
				TPM:           dc.TPM,
				Load:          loads[dc.Provider],
			})
		}
		models[i] = m
		byName[m.Name] = m
		for _, a := range mc.Aliases {
			aliases[a] = m
		}
	}
	resolve := func(names []string) []*serve.Model {
		var ms []*serve.Model
		for _, f := range names {
			fm, ok := byName[f]
			if !ok {
				fm = aliases[f]
			}
			ms = append(ms, fm)
		}
		return ms
	}
	for i, mc := range l.Models {
		models[i].Fallbacks = resolve(mc.Fallbacks)
		models[i].ContextWindowFallbacks = resolve(mc.ContextWindowFallbacks)
		models[i].ContentPolicyFallbacks = resolve(mc.ContentPolicyFallbacks)
	}
	names := llmAliases(l)
	var noCache []string
	secrets := make([]string, len(l.Keys))
	keys := make([]*serve.Key, len(l.Keys))
	for i, kc := range l.Keys {
		secrets[i] = kc.Key
		spec := llmKeySpec{Name: kc.Name, RPM: kc.RPM, TPM: kc.TPM, Models: kc.Models}
		if spec.Name == "" {
			spec.Name = fmt.Sprintf("key-%d", i+1)
		}
		if b := kc.Budget; b != nil {
			spec.Budget = &llmBudgetSpec{Tokens: int64(b.Tokens), USD: float64(b.USD), Period: b.Period}
		}
		keys[i] = st.keyOf(spec, names)
		pr, err := serve.ParsePriority(kc.Priority)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: llm key %q: %w", cfg.File, kc.Line, spec.Name, err)
		}
		keys[i].Priority, keys[i].AllowPriorityHeader, keys[i].Batch = pr, kc.AllowPriorityHeader, kc.Batch
		if kc.Cache != nil && !*kc.Cache {
			noCache = append(noCache, spec.Name)
		}
	}
	router := serve.NewRouter(models, aliases, l.Cooldown.D())
	router.SetCooldownAfter(l.CooldownAfter)
	ks := serve.NewKeys(secrets, keys)
	st.addAdminKeys(ks, names)
	h := serve.NewHandler(router, ks, l.Listeners, log.With("component", "llm"))
	h.SetRecorder(st)
	if c := l.Cache; c != nil {
		h.SetCache(serve.NewCache(c.TTL.D(), c.MaxEntries), noCache)
	}
	h.SetPrompts(llmPrompts(l.Prompts))
	// With cluster: the nodes share the deployments' limits through leases (cluster_llm.go).
	if err := h.StartPools(serve.PoolOptions{QueueTimeout: l.QueueTimeout.D(), BatchTimeout: l.BatchTimeout.D(), Shared: cfg.Cluster != nil}); err != nil {
		h.Close()
		return nil, fmt.Errorf("%s:%d: llm: %w", cfg.File, l.Line, err)
	}
	h.Scrape(scrapers)
	return h, nil
}

func llmPrompts(cs []config.LLMPrompt) []*serve.Prompt {
	ps := make([]*serve.Prompt, len(cs))
	for i, pc := range cs {
		p := &serve.Prompt{Name: pc.Name, Path: pc.Path, Model: pc.Model, System: pc.System, Template: pc.Template,
			JSON: pc.Output == config.LLMOutputJSON, MaxTokens: pc.MaxTokens}
		if t := pc.Temperature; t != nil {
			f := float64(*t)
			p.Temperature = &f
		}
		if s := pc.InputSchema; s != nil {
			p.Schema = &serve.InputSchema{Required: s.Required, Properties: s.Properties}
		}
		ps[i] = p
	}
	return ps
}
