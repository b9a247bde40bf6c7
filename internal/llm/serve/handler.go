package serve

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"aya/internal/httpx"
	"aya/internal/llm"
	"aya/internal/llm/anthropic"
	"aya/internal/llm/openai"
)

// maxBody bounds a request body: prompts with images run to megabytes, not more.
const maxBody = 32 << 20

// Handler serves the LLM API endpoints.
type Handler struct {
	router    *Router
	keys      *Keys
	models    []string // public names and aliases, sorted, for /v1/models
	listeners []string // empty: every listener
	log       *slog.Logger
	now       func() time.Time
	rec       Recorder           // nil: calls are only logged at debug level
	cache     *Cache             // nil: answers are not cached
	noCache   map[string]bool    // names of the keys that opted out of the cache
	prompts   map[string]*Prompt // by path

	stopScrapers context.CancelFunc // nil: none running
	scrapers     sync.WaitGroup
	pools        pools
}

// NewHandler serves router's models to keys. listeners limits the listeners it answers on
// (empty: all).
func NewHandler(router *Router, keys *Keys, listeners []string, log *slog.Logger) *Handler {
	h := &Handler{router: router, keys: keys, listeners: listeners, log: log, now: time.Now}
	for name := range router.models {
		h.models = append(h.models, name)
	}
	slices.Sort(h.models)
	return h
}

// Owns reports whether r is for the LLM API (so the gateway sends it here, not to a route).
func (h *Handler) Owns(r *httpx.Request) bool {
	if len(h.listeners) > 0 && !slices.Contains(h.listeners, r.Listener) {
		return false
	}
	if _, ok := h.prompts[r.Path]; ok {
		return true
	}
	switch r.Path {
	case "/v1/chat/completions", "/v1/messages", "/v1/models", "/v1/embeddings":
		return true
	}
	return strings.HasPrefix(r.Path, "/v1/models/")
}

// api is how one ingress API decodes requests and writes answers.
type api struct {
	name      string // for the call log: chat_completions, messages or embeddings
	decode    func([]byte) (*llm.Request, *llm.Error)
	encodeErr func(*llm.Error) []byte
	notFound  func(model string) *llm.Error
	// encode writes a whole answer; created is the call's start (unix seconds).
	encode func(resp *llm.Response, created int64) ([]byte, *llm.Error)
}

var openaiAPI = api{
	name:      "chat_completions",
	decode:    openai.DecodeRequest,
	encodeErr: openai.EncodeError,
	notFound:  openaiNotFound,
	encode: func(resp *llm.Response, created int64) ([]byte, *llm.Error) {
		return openai.EncodeResponse(resp, created), nil
	},
}

func openaiNotFound(m string) *llm.Error {
	return &llm.Error{Status: 404, Type: llm.ErrNotFound, Code: "model_not_found", Param: "model",
		Message: "The model `" + m + "` does not exist or you do not have access to it."}
}

var anthropicAPI = api{
	name:      "messages",
	decode:    anthropic.DecodeRequest,
	encodeErr: anthropic.EncodeError,
	notFound:  func(m string) *llm.Error { return llm.Errorf(404, llm.ErrNotFound, "model: %s", m) },
	encode: func(resp *llm.Response, _ int64) ([]byte, *llm.Error) {
		return anthropic.EncodeResponse(resp), nil
	},
}

// ServeHTTPX answers one LLM API request.
func (h *Handler) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	if p, ok := h.prompts[r.Path]; ok {
		h.prompt(w, r, p)
		return
	}
	switch {
	case r.Path == "/v1/chat/completions":
		h.chat(w, r, openaiAPI)
	case r.Path == "/v1/messages":
		h.chat(w, r, anthropicAPI)
	case r.Path == "/v1/embeddings":
		h.embeddings(w, r)
	case r.Path == "/v1/models" || strings.HasPrefix(r.Path, "/v1/models/"):
		h.listModels(w, r)
	default:
		h.fail(w, openaiAPI, llm.Errorf(404, llm.ErrNotFound, "%s is not served: the LLM API has /v1/chat/completions, /v1/messages, /v1/embeddings and /v1/models", r.Path))
	}
}

func (h *Handler) fail(w httpx.ResponseWriter, a api, e *llm.Error) {
	hd := w.Header()
	hd.Set("Content-Type", "application/json")
	if e.RetryAfter > 0 {
		hd.Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	w.WriteHeader(e.Status)
	w.Write(a.encodeErr(e))
}

// accept is the start every POST endpoint shares: the method, the caller's key, the call-log
// entry and the body (bounded). ok is false when it already answered with the error.
func (h *Handler) accept(w httpx.ResponseWriter, r *httpx.Request, a api) (key *Key, c *Call, body []byte, ok bool) {
	if r.Method != "POST" {
		w.Header().Set("Allow", "POST")
		h.fail(w, a, llm.Errorf(405, llm.ErrInvalidRequest, "use POST for %s", r.Path))
		return nil, nil, nil, false
	}
	key, e := h.keys.Find(r)
	if e != nil {
		h.fail(w, a, e)
		return nil, nil, nil, false
	}
	c = h.newCall(r, key, a.name)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	switch {
	case err != nil:
		h.failCall(w, a, c, llm.Errorf(400, llm.ErrInvalidRequest, "reading the request body: %v", err))
		return nil, nil, nil, false
	case len(body) > maxBody:
		h.failCall(w, a, c, llm.Errorf(413, llm.ErrRequestTooBig, "the request body is larger than %d bytes", maxBody))
		return nil, nil, nil, false
	}
	return key, c, body, true
}

func (h *Handler) chat(w httpx.ResponseWriter, r *httpx.Request, a api) {
	key, c, body, ok := h.accept(w, r, a)
	if !ok {
		return
	}
	req, e := a.decode(body)
	if e != nil {
		h.failCall(w, a, c, e)
		return
	}
	h.complete(w, r, a, c, key, req)
}

// complete routes a decoded request and answers it: the key's model and limits, the cache,
// the plan, the budget, the call, the accounting.
func (h *Handler) complete(w httpx.ResponseWriter, r *httpx.Request, a api, c *Call, key *Key, req *llm.Request) {
	c.Model, c.Stream = req.Model, req.Stream
	m, ok := h.router.Lookup(req.Model)
	if !ok || !key.allows(m.Name) && !key.allows(req.Model) {
		h.failCall(w, a, c, a.notFound(req.Model))
		return
	}
	if e := key.admit(r.Context(), h.now()); e != nil {
		h.failCall(w, a, c, e)
		return
	}
	h.limitHeaders(w, key)
	var ck *cacheKey // nil: the answer is not cached
	cl, e := h.classify(r, key)
	if e != nil {
		h.failCall(w, a, c, e)
		return
	}
	c.Priority, c.Batch = cl.Priority.String(), cl.Batch
	if h.cache != nil && !h.noCache[key.Name] && cacheable(req) {
		k := keyOf(a.name, req)
		if e, ok := h.cache.get(k); ok {
			h.serveCached(w, r, a, c, req, key, e)
			return
		}
		ck = &k
		w.Header().Set("X-Aya-Cache", "miss")
	}
	// The cheap guess decides unless it matters: a budget reserves by the count, and a prompt
	// within a factor of two of a context window is counted before it is sent there.
	prompt := llm.EstimateTokens(req)
	if key.Budget != nil || h.router.nearWindow(m, prompt) {
		prompt = llm.CountTokens(req)
	}
	plan := h.router.Plan(m, prompt)
	if len(plan) == 0 {
		e := llm.Errorf(400, llm.ErrInvalidRequest, "the prompt (about %d tokens) does not fit the context window of any deployment of %s: shorten it or use a larger model", prompt, req.Model)
		e.Code = "context_length_exceeded"
		h.failCall(w, a, c, e)
		return
	}
	var held hold
	if key.Budget != nil {
		var e *llm.Error
		if held, e = key.reserve(r.Context(), h.now(), estimate(req, prompt, plan)); e != nil {
			h.failCall(w, a, c, e)
			return
		}
	}
	cl.Tokens = callTokens(req, prompt)
	ctx := WithClass(r.Context(), cl)
	if req.Stream {
		h.stream(ctx, w, r, a, c, req, key, plan, held, ck)
		return
	}
	resp, d, tries, e := h.router.Chat(ctx, req, plan)
	c.Failed = len(tries)
	h.logTries(r, req, tries)
	if e != nil {
		h.settleBudget(key, held, llm.Usage{}, 0)
		h.failCall(w, a, c, e)
		return
	}
	cost := d.Cost(resp.Usage)
	key.settle(h.now(), resp.Usage, cost)
	h.settleBudget(key, held, resp.Usage, cost)
	d.count(h.now(), 0, resp.Usage.Total())
	SettleTokens(ctx, resp.Usage.Total())
	out, e := a.encode(resp, c.Time.Unix())
	if e != nil {
		// The provider answered (and is paid) but not in the form asked for: not cached.
		h.answerHeaders(w, d)
		h.fail(w, a, e)
		c.Error = e.Message
		h.logCall(c, d, resp.Usage, cost, 0, e.Status)
		return
	}
	if ck != nil {
		h.cache.put(*ck, resp, d)
	}
	h.answerHeaders(w, d)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	w.Write(out)
	h.logCall(c, d, resp.Usage, cost, 0, 200)
}

func (h *Handler) settleBudget(key *Key, held hold, u llm.Usage, cost float64) {
	if key.Budget != nil {
		key.settleBudget(h.now(), held, int64(u.Total()), cost)
	}
}

// limitHeaders tell the caller what is left of its key's minute, in OpenAI's header names.
func (h *Handler) limitHeaders(w httpx.ResponseWriter, key *Key) {
	reqs, toks := key.remaining(h.now())
	hd := w.Header()
	if reqs >= 0 {
		hd.Set("X-Ratelimit-Limit-Requests", strconv.Itoa(key.RPM))
		hd.Set("X-Ratelimit-Remaining-Requests", strconv.Itoa(reqs))
	}
	if toks >= 0 {
		hd.Set("X-Ratelimit-Limit-Tokens", strconv.Itoa(key.TPM))
		hd.Set("X-Ratelimit-Remaining-Tokens", strconv.Itoa(toks))
	}
}

// answerHeaders tell the client which deployment answered.
func (h *Handler) answerHeaders(w httpx.ResponseWriter, d *Deployment) {
	hd := w.Header()
	hd.Set("X-Aya-Provider", d.ProviderName)
	hd.Set("X-Aya-Model", d.Model)
}

// streamWriter is an ingress API's stream encoder.
type streamWriter interface {
	Write(llm.Event) error
	End() error
	Fail(*llm.Error) error
	Usage() llm.Usage
}

func (h *Handler) stream(ctx context.Context, w httpx.ResponseWriter, r *httpx.Request, a api, c *Call, req *llm.Request, key *Key, plan []*Deployment, held hold, ck *cacheKey) {
	start := c.Time
	s, first, d, tries, e := h.router.OpenStream(ctx, req, plan)
	h.logTries(r, req, tries)
	c.Failed = len(tries)
	if e != nil {
		h.settleBudget(key, held, llm.Usage{}, 0)
		h.failCall(w, a, c, e)
		return
	}
	defer s.Close()
	h.answerHeaders(w, d)
	hd := w.Header()
	hd.Set("Content-Type", "text/event-stream")
	hd.Set("Cache-Control", "no-cache")
	w.WriteHeader(200)
	ttft := h.now().Sub(start)
	status := 200
	sw := streamWriterFlushing(w, r, req, start, flushUnlessBuffered(w, s))
	var col *collector
	if ck != nil {
		col = &collector{}
	}
	ev, err := first, error(nil)
	for err == nil {
		if ev.Kind != 0 {
			if col != nil {
				col.add(ev)
			}
			if werr := sw.Write(ev); werr != nil {
				err = werr // the client went away
				break
			}
		}
		ev, err = s.Next()
	}
	switch {
	case err == io.EOF:
		if col != nil && !col.tooLarge {
			h.cache.put(*ck, &col.resp, d) // whole, even if the client misses the end
		}
		if endErr := sw.End(); endErr != nil {
			h.log.Debug("llm stream end not delivered; the client left", "request_id", r.ID, "error", endErr)
		}
	case r.Context().Err() == nil:
		// The provider failed mid-stream: the client gets an error event, not a cut socket.
		pe := llm.AsError(err)
		h.log.Warn("llm stream failed after it started", "request_id", r.ID, "provider", d.ProviderName, "model", d.Model, "error", pe.Message)
		sw.Fail(pe)
		status, c.Error = pe.Status, pe.Message
	default:
		status, c.Error = 499, "the client left before the stream ended"
	}
	u := sw.Usage()
	cost := d.Cost(u)
	key.settle(h.now(), u, cost)
	h.settleBudget(key, held, u, cost)
	d.count(h.now(), 0, u.Total())
	SettleTokens(ctx, u.Total())
	h.logCall(c, d, u, cost, ttft, status)
}

func newStreamWriter(w httpx.ResponseWriter, r *httpx.Request, req *llm.Request, start time.Time) streamWriter {
	return streamWriterFlushing(w, r, req, start, w.Flush)
}

// streamWriterFlushing is newStreamWriter with the flush called after each event.
func streamWriterFlushing(w httpx.ResponseWriter, r *httpx.Request, req *llm.Request, start time.Time, flush func() error) streamWriter {
	if r.Path == "/v1/messages" {
		return anthropic.NewStreamWriter(w, flush)
	}
	return openai.NewStreamWriter(w, flush, req.IncludeUsage, start.Unix())
}

// flushUnlessBuffered flushes w after an event unless the provider's next event is already
// at hand (its stream reports Buffered): it follows at once, so a burst leaves in one write
// instead of one system call per event, and nothing waits unflushed while aya waits for the
// provider.
func flushUnlessBuffered(w httpx.ResponseWriter, s llm.Stream) func() error {
	if t, ok := s.(*trackedStream); ok {
		s = t.Stream
	}
	b, ok := s.(interface{ Buffered() bool })
	if !ok {
		return w.Flush
	}
	return func() error {
		if b.Buffered() {
			return nil
		}
		return w.Flush()
	}
}

func (h *Handler) logTries(r *httpx.Request, req *llm.Request, tries []Attempt) {
	for _, t := range tries {
		if t.Refused { // aya's own pacing, not a failure of the deployment
			h.log.Debug("llm deployment saturated, skipped", "request_id", r.ID, "model", req.Model, "provider", t.Deployment.ProviderName,
				"deployment", t.Deployment.Model, "error", t.Err.Message)
			continue
		}
		key := ""
		if t.Key != nil {
			key = t.Key.Label
		}
		h.log.Warn("llm deployment failed", "request_id", r.ID, "model", req.Model, "provider", t.Deployment.ProviderName,
			"deployment", t.Deployment.Model, "provider_key", key, "status", t.Err.Status, "class", t.Err.Class(), "error", t.Err.Message)
	}
}

// newCall starts the call-log entry of a request from key. The request id is copied: it may
// point into the connection's buffer, and the log keeps it.
func (h *Handler) newCall(r *httpx.Request, key *Key, api string) *Call {
	return &Call{Time: h.now(), RequestID: strings.Clone(r.ID), Key: key.Name, API: api, Priority: key.Priority.String(), Batch: key.Batch}
}

// failCall answers with e and records the call as failed.
func (h *Handler) failCall(w httpx.ResponseWriter, a api, c *Call, e *llm.Error) {
	h.fail(w, a, e)
	c.Status, c.Error = e.Status, e.Message
	h.record(c)
}

// logCall records a call a deployment answered (status 200, or the error a stream ended with).
func (h *Handler) logCall(c *Call, d *Deployment, u llm.Usage, cost float64, ttft time.Duration, status int) {
	c.Provider, c.Deployment = d.ProviderName, d.Model
	c.InputTokens, c.OutputTokens = u.Input, u.Output
	c.CachedTokens, c.ReasoningTokens = u.CachedInput, u.Reasoning
	c.CostUSD, c.TTFT, c.Status = cost, ttft, status
	h.record(c)
}

func (h *Handler) record(c *Call) {
	c.Duration = h.now().Sub(c.Time)
	c.TookMs = float64(c.Duration.Microseconds()) / 1000
	c.TTFTMs = float64(c.TTFT.Microseconds()) / 1000
	h.log.Debug("llm call", "request_id", c.RequestID, "key", c.Key, "model", c.Model, "provider", c.Provider, "deployment", c.Deployment,
		"input_tokens", c.InputTokens, "output_tokens", c.OutputTokens, "cost_usd", c.CostUSD, "ttft", c.TTFT, "duration", c.Duration,
		"stream", c.Stream, "status", c.Status)
	if h.rec != nil {
		h.rec.RecordCall(c)
	}
}

// Keys is the handler's key index; the admin API adds and revokes keys through it.
func (h *Handler) Keys() *Keys { return h.keys }

// SetRecorder sends every finished call to rec (the call log, metrics). Call it before the
// handler serves.
func (h *Handler) SetRecorder(rec Recorder) { h.rec = rec }

// listModels answers GET /v1/models and /v1/models/{id} in the caller's API: Anthropic's SDK
// sends anthropic-version, OpenAI's does not.
func (h *Handler) listModels(w httpx.ResponseWriter, r *httpx.Request) {
	a := openaiAPI
	isAnthropic := r.Header.Has("anthropic-version")
	if isAnthropic {
		a = anthropicAPI
	}
	if r.Method != "GET" {
		h.fail(w, a, llm.Errorf(405, llm.ErrInvalidRequest, "use GET for %s", r.Path))
		return
	}
	key, e := h.keys.Find(r)
	if e != nil {
		h.fail(w, a, e)
		return
	}
	var ids []string
	for _, name := range h.models {
		if m, _ := h.router.Lookup(name); key.allows(m.Name) || key.allows(name) {
			ids = append(ids, name)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if id, ok := strings.CutPrefix(r.Path, "/v1/models/"); ok {
		// Model ids may hold "/", which arrives escaped.
		if u, err := url.PathUnescape(id); err == nil {
			id = u
		}
		if !slices.Contains(ids, id) {
			h.fail(w, a, a.notFound(id))
			return
		}
		w.WriteHeader(200)
		w.Write(modelJSON(id, isAnthropic))
		return
	}
	var b strings.Builder
	b.WriteString(`{"object":"list","data":[`)
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(modelJSON(id, isAnthropic))
	}
	b.WriteString("]")
	if isAnthropic {
		first, last := "", ""
		if len(ids) > 0 {
			first, last = ids[0], ids[len(ids)-1]
		}
		b.WriteString(`,"has_more":false,"first_id":` + jsonString(first) + `,"last_id":` + jsonString(last))
	}
	b.WriteString("}")
	w.WriteHeader(200)
	io.WriteString(w, b.String())
}

func modelJSON(id string, isAnthropic bool) []byte {
	if isAnthropic {
		return []byte(`{"type":"model","id":` + jsonString(id) + `,"display_name":` + jsonString(id) + `,"created_at":"1970-01-01T00:00:00Z"}`)
	}
	return []byte(`{"id":` + jsonString(id) + `,"object":"model","created":0,"owned_by":"aya"}`)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}

// Scrape starts polling the servers' metrics for least_loaded; Close stops it. Call it once,
// before the handler serves.
func (h *Handler) Scrape(scrapers []*Scraper) {
	if len(scrapers) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stopScrapers = cancel
	for _, s := range scrapers {
		h.scrapers.Go(func() { s.Run(ctx) })
	}
}

// Close stops the metrics scrapers and the capacity pools (calls still waiting for capacity
// are refused) and releases the providers' idle connections; calls in flight finish.
func (h *Handler) Close() {
	h.pools.close()
	if h.stopScrapers != nil {
		h.stopScrapers()
		h.scrapers.Wait()
	}
	seen := map[Provider]bool{}
	for _, m := range h.router.models {
		for _, d := range m.Deployments {
			ps := []Provider{d.Provider}
			for _, k := range d.Keys {
				ps = append(ps, k.Provider)
			}
			for _, p := range ps {
				if c, ok := p.(interface{ Close() }); ok && !seen[p] {
					seen[p] = true
					c.Close()
				}
			}
		}
	}
}
