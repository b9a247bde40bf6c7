package serve

import (
	"aya/internal/httpx"
	"aya/internal/llm"
)

// SetCache answers repeated deterministic requests from c, except for the keys named in
// optOut. Call it before the handler serves.
func (h *Handler) SetCache(c *Cache, optOut []string) {
	h.cache = c
	h.noCache = make(map[string]bool, len(optOut))
	for _, n := range optOut {
		h.noCache[n] = true
	}
}

// serveCached answers from the cache, as a stream when the client asked for one. A hit takes
// no provider capacity (no in-flight count, no deployment RPM/TPM) and costs nothing: the key
// counts the request but neither tokens nor dollars, so its budget and TPM are not charged. The
// call log still shows the usage the answer carried, with CacheHit set.
func (h *Handler) serveCached(w httpx.ResponseWriter, r *httpx.Request, a api, c *Call, req *llm.Request, key *Key, e *cacheEntry) {
	c.CacheHit = true
	key.settle(h.now(), llm.Usage{}, 0)
	hd := w.Header()
	hd.Set("X-Aya-Cache", "hit")
	hd.Set("X-Aya-Provider", e.provider)
	hd.Set("X-Aya-Model", e.model)
	status := 200
	if !req.Stream {
		// Only answers that encoded are stored, so this cannot fail.
		out, _ := a.encode(e.resp, c.Time.Unix())
		hd.Set("Content-Type", "application/json")
		w.WriteHeader(200)
		w.Write(out)
	} else {
		hd.Set("Content-Type", "text/event-stream")
		hd.Set("Cache-Control", "no-cache")
		w.WriteHeader(200)
		sw := newStreamWriter(w, r, req, c.Time)
		var err error
		for i, ev := range replay(e.resp) {
			if err = sw.Write(ev); err != nil {
				break
			}
			if i == 0 {
				c.TTFT = h.now().Sub(c.Time)
			}
		}
		if err == nil {
			err = sw.End()
		}
		if err != nil {
			status, c.Error = 499, "the client left before the stream ended"
		}
	}
	c.Provider, c.Deployment = e.provider, e.model
	u := e.resp.Usage
	c.InputTokens, c.OutputTokens = u.Input, u.Output
	c.CachedTokens, c.ReasoningTokens = u.CachedInput, u.Reasoning
	c.Status = status
	h.record(c)
}
