package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"aya/internal/config"
	"aya/internal/llm/serve"
	"aya/internal/store"
)

// llmState is what the LLM gateway keeps across reloads: every key's usage (so a reload does
// not forget a month's spend), the keys the admin API created, the call log, and the metrics.
type llmState struct {
	ledger *serve.Ledger
	calls  *serve.CallLog

	store   *store.Store // nil: no data_dir, nothing persists
	flushMu sync.Mutex   // guards flushed
	flushed map[string]serve.UsageRecord

	mu        sync.Mutex // guards admin and anyAdmin
	admin     []adminKey
	anyAdmin  bool // an admin key was ever created: anonymous access stays off
	requests  *prometheus.CounterVec
	tokens    *prometheus.CounterVec
	cost      *prometheus.CounterVec
	ttft      *prometheus.HistogramVec
	duration  *prometheus.HistogramVec
	pools     *serve.PoolCollector // the live handler's token pools
	collector []prometheus.Collector
	// series caches each label combination's metric children (a callSeriesKey's), so that
	// recording a call hashes its labels once instead of six times; the combinations are
	// bounded as the series themselves are (config names, statuses).
	series sync.Map
}

type callSeriesKey struct {
	model, provider, key string
	status               int
	stream               bool
}

// callSeries is one label combination's metric children.
type callSeries struct {
	requests, input, output, cost prometheus.Counter
	ttft, duration                prometheus.Observer
}

// adminKey is a virtual key created through the admin API; only its secret's hash is kept.
type adminKey struct {
	spec    llmKeySpec
	hash    [32]byte
	created time.Time
}

// llmKeySpec is the body of POST /llm/keys, and what GET /llm/keys shows of a key.
type llmKeySpec struct {
	Name   string         `json:"name"`
	Models []string       `json:"models,omitempty"`
	RPM    int            `json:"rpm,omitempty"`
	TPM    int            `json:"tpm,omitempty"`
	Budget *llmBudgetSpec `json:"budget,omitempty"`
}

// llmBudgetSpec is a key's budget per day or month.
type llmBudgetSpec struct {
	Tokens int64   `json:"tokens,omitempty"`
	USD    float64 `json:"usd,omitempty"`
	Period string  `json:"period,omitempty"`
}

func newLLMState() *llmState {
	st := &llmState{ledger: serve.NewLedger(), calls: serve.NewCallLog(10000)}
	ttftBuckets := []float64{.01, .025, .05, .1, .25, .5, 1, 2, 4, 8, 15, 30, 60}
	st.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aya_llm_requests_total",
		Help: "LLM API calls by public model, provider and HTTP status (model and provider are empty for calls refused before routing).",
	}, []string{"model", "provider", "status"})
	st.tokens = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aya_llm_tokens_total",
		Help: "Tokens the providers reported, by public model, provider, virtual key and type (input or output).",
	}, []string{"model", "provider", "key", "type"})
	st.cost = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aya_llm_cost_usd_total",
		Help: "Dollars spent at the deployments' configured prices, by public model, provider and virtual key.",
	}, []string{"model", "provider", "key"})
	st.ttft = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "aya_llm_ttft_seconds",
		Help:    "Time from the call's arrival to the first streamed token, by public model and provider.",
		Buckets: ttftBuckets,
	}, []string{"model", "provider"})
	st.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "aya_llm_request_duration_seconds",
		Help:    "Whole LLM call duration, by public model, provider and whether it streamed.",
		Buckets: ttftBuckets,
	}, []string{"model", "provider", "stream"})
	st.pools = serve.NewPoolCollector()
	st.collector = []prometheus.Collector{st.requests, st.tokens, st.cost, st.ttft, st.duration, st.pools}
	return st
}

// RecordCall feeds the call log and the metrics.
func (st *llmState) RecordCall(c *serve.Call) {
	st.calls.RecordCall(c)
	k := callSeriesKey{model: c.Model, provider: c.Provider, key: c.Key, status: c.Status, stream: c.Stream}
	if c.Provider == "" {
		k.model = "" // refused before routing: the name may be anything a client sent
	}
	s := st.seriesOf(k)
	s.requests.Inc()
	if c.Provider == "" || c.CacheHit {
		return // refused before routing, or answered from aya's cache: no provider tokens or latency
	}
	s.input.Add(float64(c.InputTokens))
	s.output.Add(float64(c.OutputTokens))
	s.cost.Add(c.CostUSD)
	if c.Stream && c.TTFT > 0 {
		s.ttft.Observe(c.TTFT.Seconds())
	}
	s.duration.Observe(c.Duration.Seconds())
}

// seriesOf returns k's metric children, creating them on first use.
func (st *llmState) seriesOf(k callSeriesKey) *callSeries {
	if s, ok := st.series.Load(k); ok {
		return s.(*callSeries)
	}
	// The call's strings may point into memory the handler reuses; the cache keeps copies.
	k.model, k.provider, k.key = strings.Clone(k.model), strings.Clone(k.provider), strings.Clone(k.key)
	s := &callSeries{requests: st.requests.WithLabelValues(k.model, k.provider, strconv.Itoa(k.status))}
	if k.provider != "" { // only routed calls have the others: no empty series for refusals
		s.input = st.tokens.WithLabelValues(k.model, k.provider, k.key, "input")
		s.output = st.tokens.WithLabelValues(k.model, k.provider, k.key, "output")
		s.cost = st.cost.WithLabelValues(k.model, k.provider, k.key)
		s.duration = st.duration.WithLabelValues(k.model, k.provider, strconv.FormatBool(k.stream))
		if k.stream {
			s.ttft = st.ttft.WithLabelValues(k.model, k.provider)
		}
	}
	v, _ := st.series.LoadOrStore(k, s)
	return v.(*callSeries)
}

// keyOf builds the serve.Key of a spec over its usage in the ledger. aliases maps alias
// names to public model names.
func (st *llmState) keyOf(spec llmKeySpec, aliases map[string]string) *serve.Key {
	k := &serve.Key{Name: spec.Name, RPM: spec.RPM, TPM: spec.TPM, Usage: st.ledger.Usage(spec.Name)}
	if b := spec.Budget; b != nil {
		k.Budget = &serve.Budget{Tokens: b.Tokens, USD: b.USD, Period: b.Period}
	}
	if len(spec.Models) > 0 {
		k.Models = map[string]bool{}
		for _, m := range spec.Models {
			if name, ok := aliases[m]; ok {
				m = name
			}
			k.Models[m] = true
		}
	}
	return k
}

// addAdminKeys lets the admin API's keys into a freshly built key index.
func (st *llmState) addAdminKeys(ks *serve.Keys, aliases map[string]string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, a := range st.admin {
		ks.Add(a.hash, st.keyOf(a.spec, aliases))
	}
	if st.anyAdmin {
		ks.RequireKeys()
	}
}

// mountLLMAdmin adds the LLM endpoints to the admin API: the call log, the virtual keys and
// the deployments' routing state.
func (g *Gateway) mountLLMAdmin(mux *http.ServeMux, cfg config.Admin) {
	mux.Handle("GET /llm/calls", auth(cfg.Token, http.HandlerFunc(g.handleLLMCalls)))
	mux.Handle("GET /llm/keys", auth(cfg.Token, http.HandlerFunc(g.handleLLMKeys)))
	mux.Handle("POST /llm/keys", auth(cfg.Token, http.HandlerFunc(g.handleLLMKeyCreate)))
	mux.Handle("DELETE /llm/keys/{name}", auth(cfg.Token, http.HandlerFunc(g.handleLLMKeyRevoke)))
	mux.Handle("GET /llm/deployments", auth(cfg.Token, http.HandlerFunc(g.handleLLMDeployments)))
}

func adminError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": status, "message": msg}})
}

func (g *Gateway) handleLLMCalls(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := serve.CallFilter{Key: q.Get("key"), Model: q.Get("model"), Provider: q.Get("provider"), Errors: q.Get("errors") == "true"}
	var err error
	if v := q.Get("priority"); v != "" {
		p, err := serve.ParsePriority(v)
		if err != nil {
			adminError(w, 400, "priority must be critical, high, medium or low, got "+strconv.Quote(v))
			return
		}
		f.Priority = p.String()
	}
	if v := q.Get("status"); v != "" {
		if f.Status, err = strconv.Atoi(v); err != nil {
			adminError(w, 400, "status must be an HTTP status code, got "+strconv.Quote(v))
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 || f.Limit > 10000 {
			adminError(w, 400, "limit must be a number from 1 to 10000, got "+strconv.Quote(v))
			return
		}
	}
	if v := q.Get("since"); v != "" {
		if f.Since, err = time.Parse(time.RFC3339, v); err != nil {
			adminError(w, 400, "since must be an RFC 3339 time like 2026-01-02T15:04:05Z, got "+strconv.Quote(v))
			return
		}
	}
	writeJSON(w, 200, map[string]any{"calls": g.llm.calls.Query(f)})
}

// llmKeyView is one key as GET /llm/keys shows it: limits and usage, never the secret.
type llmKeyView struct {
	Name         string   `json:"name"`
	Origin       string   `json:"origin"` // config or admin
	Models       []string `json:"models,omitempty"`
	RPM          int      `json:"rpm,omitempty"`
	TPM          int      `json:"tpm,omitempty"`
	Requests     int64    `json:"requests"`
	InputTokens  int64    `json:"input_tokens"`
	OutputTokens int64    `json:"output_tokens"`
	CostUSD      float64  `json:"cost_usd"`
	Budget       any      `json:"budget,omitempty"`
}

func (g *Gateway) handleLLMKeys(w http.ResponseWriter, r *http.Request) {
	s := g.snap.Load()
	if s.llm == nil {
		adminError(w, 404, "no llm: section in the config: the LLM gateway is off")
		return
	}
	g.llm.mu.Lock()
	admin := map[string]bool{}
	for _, a := range g.llm.admin {
		admin[a.spec.Name] = true
	}
	g.llm.mu.Unlock()
	now := time.Now()
	out := []llmKeyView{}
	for _, k := range s.llm.Keys().List() {
		v := llmKeyView{Name: k.Name, Origin: "config", RPM: k.RPM, TPM: k.TPM, Requests: k.Requests.Load(),
			InputTokens: k.InputTokens.Load(), OutputTokens: k.OutputTokens.Load(), CostUSD: k.CostUSD()}
		if admin[k.Name] {
			v.Origin = "admin"
		}
		for m := range k.Models {
			v.Models = append(v.Models, m)
		}
		slices.Sort(v.Models)
		if b := k.Budget; b != nil {
			// In a cluster the budget is global: show every node's spend, or this node's own
			// (scope "node") while Redis does not answer.
			scope := "cluster"
			tok, usd, ok := k.SharedBudgetUsed(r.Context(), now)
			if !ok {
				scope = "node"
				tok, usd = k.BudgetUsed(now)
			}
			v.Budget = map[string]any{"tokens": b.Tokens, "usd": b.USD, "period": b.Period, "used_tokens": tok, "used_usd": usd, "scope": scope}
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b llmKeyView) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	writeJSON(w, 200, map[string]any{"keys": out})
}

func (g *Gateway) handleLLMKeyCreate(w http.ResponseWriter, r *http.Request) {
	var spec llmKeySpec
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&spec); err != nil {
		adminError(w, 400, "the body must be a JSON key like {\"name\": \"team-a\", \"models\": [\"gpt-4o\"], \"rpm\": 60, \"budget\": {\"usd\": 10, \"period\": \"month\"}}: "+err.Error())
		return
	}
	// Serialized with reloads, so the key lands in whichever snapshot serves next.
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.snap.Load()
	if s.llm == nil {
		adminError(w, 404, "no llm: section in the config: the LLM gateway is off")
		return
	}
	if err := validKeySpec(&spec, s.cfg.LLM); err != nil {
		adminError(w, 400, err.Error())
		return
	}
	for _, k := range s.llm.Keys().List() {
		if k.Name == spec.Name {
			adminError(w, 409, fmt.Sprintf("a key named %q exists; revoke it first or pick another name", spec.Name))
			return
		}
	}
	raw := make([]byte, 24)
	rand.Read(raw) // crypto/rand.Read never fails
	secret := "sk-aya-" + hex.EncodeToString(raw)
	a := adminKey{spec: spec, hash: serve.HashSecret(secret), created: time.Now().UTC()}
	if err := g.llm.saveKey(a, false); err != nil {
		adminError(w, 500, "the key could not be saved to the data_dir store, so it was not created: "+err.Error())
		return
	}
	g.llm.mu.Lock()
	g.llm.admin = append(g.llm.admin, a)
	g.llm.anyAdmin = true
	g.llm.mu.Unlock()
	s.llm.Keys().Add(a.hash, g.llm.keyOf(spec, llmAliases(s.cfg.LLM)))
	g.shareLLMKey(r.Context(), a)
	auditNote(r, "llm_key", spec.Name)
	writeJSON(w, 201, map[string]any{"name": spec.Name, "key": secret, "created": a.created,
		"note": "the key is shown once; aya keeps only its hash"})
}

func (g *Gateway) handleLLMKeyRevoke(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.snap.Load()
	if s.llm == nil {
		adminError(w, 404, "no llm: section in the config: the LLM gateway is off")
		return
	}
	g.llm.mu.Lock()
	i := slices.IndexFunc(g.llm.admin, func(a adminKey) bool { return a.spec.Name == name })
	var saveErr error
	if i >= 0 {
		if saveErr = g.llm.saveKey(g.llm.admin[i], true); saveErr == nil {
			g.llm.admin = slices.Delete(g.llm.admin, i, i+1)
		}
	}
	g.llm.mu.Unlock()
	if saveErr != nil {
		adminError(w, 500, "the revocation could not be saved to the data_dir store, so the key stays: "+saveErr.Error())
		return
	}
	if i < 0 {
		for _, kc := range s.cfg.LLM.Keys {
			if kc.Name == name {
				adminError(w, 409, fmt.Sprintf("key %q is defined in the config file (line %d); remove it there", name, kc.Line))
				return
			}
		}
		adminError(w, 404, fmt.Sprintf("no admin-created key named %q", name))
		return
	}
	s.llm.Keys().Remove(name)
	g.shareLLMKeyRevoked(r.Context(), name)
	auditNote(r, "llm_key", name)
	writeJSON(w, 200, map[string]any{"revoked": name})
}

// validKeySpec checks an admin key against the running LLM config.
func validKeySpec(spec *llmKeySpec, l *config.LLM) error {
	if !validKeyName(spec.Name) {
		return errors.New("name must be 1 to 64 letters, digits, '-', '_' or '.' (it is used in metric labels and logs)")
	}
	if spec.RPM < 0 || spec.TPM < 0 {
		return errors.New("rpm and tpm must be 0 (no limit) or more")
	}
	known := llmAliases(l)
	for _, m := range spec.Models {
		if _, ok := known[m]; !ok {
			return fmt.Errorf("model %q is not served: use one of the llm.models names or aliases", m)
		}
	}
	if b := spec.Budget; b != nil {
		switch b.Period {
		case "":
			b.Period = serve.PerMonth
		case serve.PerDay, serve.PerMonth:
		default:
			return fmt.Errorf("budget.period must be day or month, got %q", b.Period)
		}
		if b.Tokens < 0 || b.USD < 0 || b.Tokens == 0 && b.USD == 0 {
			return errors.New("a budget needs tokens or usd above 0")
		}
	}
	return nil
}

// llmAliases maps every public model name and alias to its model's name.
func llmAliases(l *config.LLM) map[string]string {
	m := map[string]string{}
	for _, mc := range l.Models {
		m[mc.Name] = mc.Name
		for _, a := range mc.Aliases {
			m[a] = mc.Name
		}
	}
	return m
}

func validKeyName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}
