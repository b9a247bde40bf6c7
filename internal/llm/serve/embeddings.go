package serve

import (
	"context"
	"encoding/json"
	"io"
	"time"

	"aya/internal/httpx"
	"aya/internal/llm"
)

// Embedder is a provider that serves OpenAI-style embeddings.
type Embedder interface {
	Embed(ctx context.Context, body []byte) ([]byte, error)
}

// embeddings answers POST /v1/embeddings on the model's deployments that can embed, with the
// same fallbacks and cooldowns as chat.
func (h *Handler) embeddings(w httpx.ResponseWriter, r *httpx.Request) {
	a := openaiAPI
	if r.Method != "POST" {
		h.fail(w, a, llm.Errorf(405, llm.ErrInvalidRequest, "use POST for %s", r.Path))
		return
	}
	key, e := h.keys.Find(r)
	if e != nil {
		h.fail(w, a, e)
		return
	}
	c := h.newCall(r, key, "embeddings")
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		h.failCall(w, a, c, llm.Errorf(400, llm.ErrInvalidRequest, "the request body could not be read or is larger than %d bytes", maxBody))
		return
	}
	var fields map[string]json.RawMessage
	var model string
	if json.Unmarshal(body, &fields) != nil || json.Unmarshal(fields["model"], &model) != nil || model == "" {
		e := llm.Errorf(400, llm.ErrInvalidRequest, "the body must be a JSON object with a model and an input")
		e.Param = "model"
		h.failCall(w, a, c, e)
		return
	}
	c.Model = model
	m, ok := h.router.Lookup(model)
	if !ok || !key.allows(m.Name) && !key.allows(model) {
		h.failCall(w, a, c, a.notFound(model))
		return
	}
	if e := key.admit(r.Context(), h.now()); e != nil {
		h.failCall(w, a, c, e)
		return
	}
	cl, e := h.classify(r, key)
	if e != nil {
		h.failCall(w, a, c, e)
		return
	}
	c.Priority, c.Batch = cl.Priority.String(), cl.Batch
	// The input's JSON at four characters a token: strings are counted about as chat prompts
	// are, token-id arrays a little over; the provider's usage settles it.
	cl.Tokens = len(fields["input"])/4 + 1
	ctx := WithClass(r.Context(), cl)
	out, d, tries, e := h.router.embed(ctx, h.router.Plan(m, 0), func(d *Deployment) []byte {
		fields["model"], _ = json.Marshal(d.Model)
		req, _ := json.Marshal(fields) // re-marshalling decoded raw JSON cannot fail
		return req
	})
	h.logTries(r, &llm.Request{Model: model}, tries)
	c.Failed = len(tries)
	if e != nil {
		h.failCall(w, a, c, e)
		return
	}
	var u struct {
		Usage struct {
			PromptTokens int `json:"prompt_tokens"`
		} `json:"usage"`
	}
	json.Unmarshal(out, &u)
	usage := llm.Usage{Input: u.Usage.PromptTokens}
	cost := d.Cost(usage)
	key.settle(h.now(), usage, cost)
	d.count(h.now(), 0, usage.Input)
	SettleTokens(ctx, usage.Input)
	h.answerHeaders(w, d)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(200)
	w.Write(out)
	h.logCall(c, d, usage, cost, 0, 200)
}

// embed calls the deployments of plan that can embed, in order, with the same capacity pools,
// provider keys and fallback rules as Chat; body is the request for a deployment.
func (r *Router) embed(ctx context.Context, plan []*Deployment, body func(*Deployment) []byte) (out []byte, d *Deployment, tries []Attempt, err *llm.Error) {
	cl := classOf(ctx)
	for i := 0; i < len(plan); i++ {
		d := plan[i]
		k := d.pick(r.now)
		emb, ok := d.provider(k).(Embedder)
		if !ok {
			continue
		}
		if e := cl.admit(ctx, d); e != nil {
			tries = append(tries, Attempt{Deployment: d, Err: e, Refused: true})
			if ctx.Err() != nil {
				return nil, d, tries, e
			}
			continue
		}
		d.inflight.Add(1)
		d.count(r.now(), 1, 0)
		start := time.Now()
		out, cerr := emb.Embed(ctx, body(d))
		d.inflight.Add(-1)
		if cerr == nil {
			d.succeeded()
			d.observeLatency(time.Since(start))
			return out, d, tries, nil
		}
		e := llm.AsError(cerr)
		tries = append(tries, Attempt{Deployment: d, Key: k, Err: e})
		if plan, ok = r.next(ctx, plan, i, k, e); !ok {
			return nil, d, tries, e
		}
	}
	if len(tries) == 0 {
		return nil, nil, nil, llm.Errorf(400, llm.ErrInvalidRequest, "the model has no deployment that serves embeddings (use an openai or openai_compatible provider)")
	}
	return nil, nil, tries, exhausted(tries)
}
