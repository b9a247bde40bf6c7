package serve

import (
	"container/list"
	"crypto/sha256"
	"encoding/json"
	"sync"
	"time"

	"aya/internal/llm"
)

// maxCachedText bounds one cached answer (text and tool arguments): a cache of max_entries
// huge answers would hold gigabytes, and long answers are rarely asked for twice.
const maxCachedText = 1 << 20

// Cache keeps whole answers to deterministic requests for exact repeats, shared by every key
// (a deterministic answer is the same whoever asks). Entries live ttl and the least recently
// used is dropped beyond maxEntries. Streamed and non-streamed calls share entries: an answer
// is kept as one Response and replayed as events to a streaming client.
type Cache struct {
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	lru   *list.List // of *cacheEntry, most recent first
	byKey map[cacheKey]*list.Element
}

type cacheKey [sha256.Size]byte

type cacheEntry struct {
	key      cacheKey
	expires  time.Time
	resp     *llm.Response // never modified once stored
	provider string
	model    string // the deployment's model id
}

// NewCache keeps up to maxEntries answers for ttl each.
func NewCache(ttl time.Duration, maxEntries int) *Cache {
	return &Cache{ttl: ttl, max: maxEntries, now: time.Now, lru: list.New(), byKey: map[cacheKey]*list.Element{}}
}

// Len is how many answers the cache holds (expired ones included until touched or evicted).
func (c *Cache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len()
}

func (c *Cache) get(k cacheKey) (*cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !c.now().Before(e.expires) {
		c.lru.Remove(el)
		delete(c.byKey, k)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e, true
}

func (c *Cache) put(k cacheKey, resp *llm.Response, d *Deployment) {
	if len(resp.Text) > maxCachedText {
		return
	}
	e := &cacheEntry{key: k, expires: c.now().Add(c.ttl), resp: resp, provider: d.ProviderName, model: d.Model}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.byKey[k]; ok {
		el.Value = e
		c.lru.MoveToFront(el)
		return
	}
	c.byKey[k] = c.lru.PushFront(e)
	for c.lru.Len() > c.max {
		old := c.lru.Back()
		c.lru.Remove(old)
		delete(c.byKey, old.Value.(*cacheEntry).key)
	}
}

// cacheable reports whether req asks for a deterministic answer: temperature 0, or a seed
// with the temperature left to the provider. Any temperature above 0 samples, seed or not:
// providers only promise best-effort reproducibility there, and a client asking for variety
// must not get the same answer twice.
func cacheable(req *llm.Request) bool {
	if req.Temperature != nil {
		return *req.Temperature == 0
	}
	return req.Seed != nil
}

// canonical is what makes two requests the same for the cache: everything the answer depends
// on. Stream and IncludeUsage only shape the delivery (a stream is replayed from the same
// answer) and User only labels the caller, so they are left out.
type canonical struct {
	API            string
	Model          string
	System         string
	Messages       []llm.Message
	Tools          []canonicalTool
	ToolChoice     *llm.ToolChoice
	Stop           []string
	Temperature    *float64
	TopP           *float64
	Seed           *int64
	MaxTokens      int
	ResponseFormat *llm.ResponseFormat
}

type canonicalTool struct {
	Name, Description string
	Parameters        any // decoded, so that the schema's spacing and key order do not matter
}

// keyOf hashes the request as the api (chat_completions or messages) received it.
func keyOf(api string, req *llm.Request) cacheKey {
	c := canonical{API: api, Model: req.Model, System: req.System, Messages: req.Messages, ToolChoice: req.ToolChoice,
		Stop: req.Stop, Temperature: req.Temperature, TopP: req.TopP, Seed: req.Seed, MaxTokens: req.MaxTokens,
		ResponseFormat: req.ResponseFormat}
	for _, t := range req.Tools {
		ct := canonicalTool{Name: t.Name, Description: t.Description}
		if len(t.Parameters) > 0 && json.Unmarshal(t.Parameters, &ct.Parameters) != nil {
			ct.Parameters = string(t.Parameters) // not JSON: compare as written
		}
		c.Tools = append(c.Tools, ct)
	}
	h := sha256.New()
	// Maps marshal with sorted keys, slices in order: equal requests give equal bytes.
	_ = json.NewEncoder(h).Encode(&c) // writing to a hash cannot fail
	var k cacheKey
	h.Sum(k[:0])
	return k
}

// collector rebuilds the whole answer from a live stream's events, for the cache.
type collector struct {
	resp     llm.Response
	tooLarge bool
}

func (c *collector) add(ev llm.Event) {
	if c.tooLarge {
		return
	}
	r := &c.resp
	switch ev.Kind {
	case llm.EventStart:
		r.ID, r.Model = ev.ID, ev.Model
		if ev.Usage != (llm.Usage{}) {
			r.Usage = ev.Usage
		}
	case llm.EventText:
		r.Text += ev.Text
	case llm.EventToolStart:
		for len(r.ToolCalls) <= ev.Index {
			r.ToolCalls = append(r.ToolCalls, llm.ToolCall{})
		}
		r.ToolCalls[ev.Index].ID, r.ToolCalls[ev.Index].Name = ev.ID, ev.Name
	case llm.EventToolArgs:
		if ev.Index < len(r.ToolCalls) {
			r.ToolCalls[ev.Index].Arguments += ev.Text
		}
	case llm.EventFinish:
		r.Finish, r.StopSequence = ev.Finish, ev.StopSequence
	case llm.EventUsage:
		r.Usage = ev.Usage
	}
	if len(r.Text) > maxCachedText {
		c.tooLarge = true
	}
}

// replay is a cached answer as the events of a live stream: the start (with the prompt's
// usage, as Anthropic sends it), the text, each tool call, the finish and the usage.
func replay(r *llm.Response) []llm.Event {
	evs := make([]llm.Event, 0, 4+2*len(r.ToolCalls))
	evs = append(evs, llm.Event{Kind: llm.EventStart, ID: r.ID, Model: r.Model, Usage: llm.Usage{Input: r.Usage.Input, CachedInput: r.Usage.CachedInput, CacheWrite: r.Usage.CacheWrite}})
	if r.Text != "" {
		evs = append(evs, llm.Event{Kind: llm.EventText, Text: r.Text})
	}
	for i, tc := range r.ToolCalls {
		evs = append(evs, llm.Event{Kind: llm.EventToolStart, Index: i, ID: tc.ID, Name: tc.Name})
		if tc.Arguments != "" {
			evs = append(evs, llm.Event{Kind: llm.EventToolArgs, Index: i, Text: tc.Arguments})
		}
	}
	evs = append(evs, llm.Event{Kind: llm.EventFinish, Finish: r.Finish, StopSequence: r.StopSequence},
		llm.Event{Kind: llm.EventUsage, Usage: r.Usage})
	return evs
}
