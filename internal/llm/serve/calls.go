package serve

import (
	"sync"
	"time"
)

// Call is one LLM API call as the call log and the metrics see it.
type Call struct {
	Time       time.Time `json:"time"`
	RequestID  string    `json:"request_id"`
	Key        string    `json:"key"`
	API        string    `json:"api"`   // chat_completions, messages, embeddings or prompt
	Model      string    `json:"model"` // as the client asked (a public name or alias)
	Provider   string    `json:"provider,omitempty"`
	Deployment string    `json:"deployment,omitempty"` // the provider's model id
	Stream     bool      `json:"stream"`
	// Priority and Batch are the call's class at saturated deployments: its key's, or what its
	// headers chose where allowed (critical, high, medium or low).
	Priority string `json:"priority"`
	Batch    bool   `json:"batch"`

	InputTokens     int     `json:"input_tokens"`
	OutputTokens    int     `json:"output_tokens"`
	CachedTokens    int     `json:"cached_tokens,omitempty"`
	ReasoningTokens int     `json:"reasoning_tokens,omitempty"`
	CostUSD         float64 `json:"cost_usd"`

	// TTFT is the time to the first token of a stream (0 for other calls).
	TTFT     time.Duration `json:"-"`
	Duration time.Duration `json:"-"`
	TTFTMs   float64       `json:"ttft_ms,omitempty"`
	TookMs   float64       `json:"duration_ms"`

	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
	// Failed counts the deployments that failed before the one that answered (fallbacks).
	Failed   int  `json:"failed_attempts,omitempty"`
	CacheHit bool `json:"cache_hit"`
}

// Recorder receives every finished call (the call log, the metrics). RecordCall must not keep
// c: it is reused.
type Recorder interface {
	RecordCall(c *Call)
}

// CallLog keeps the most recent calls in a ring, for the admin API.
type CallLog struct {
	mu   sync.Mutex
	ring []Call
	next int
	full bool
}

// NewCallLog keeps the last size calls.
func NewCallLog(size int) *CallLog { return &CallLog{ring: make([]Call, size)} }

// RecordCall adds c, replacing the oldest call when the ring is full.
func (l *CallLog) RecordCall(c *Call) {
	l.mu.Lock()
	l.ring[l.next] = *c
	l.next++
	if l.next == len(l.ring) {
		l.next, l.full = 0, true
	}
	l.mu.Unlock()
}

// CallFilter selects calls; zero fields match everything.
type CallFilter struct {
	Key, Model, Provider string
	Priority             string // critical, high, medium or low; "": any
	Status               int    // exact status; 0: any
	Errors               bool
	Since                time.Time
	Limit                int // newest first; 0: 100
}

// Query returns the newest calls matching f, newest first.
func (l *CallLog) Query(f CallFilter) []Call {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.next
	if l.full {
		n = len(l.ring)
	}
	out := make([]Call, 0, min(f.Limit, n))
	for i := 0; i < n && len(out) < f.Limit; i++ {
		c := &l.ring[(l.next-1-i+len(l.ring))%len(l.ring)]
		if f.match(c) {
			out = append(out, *c)
		}
	}
	return out
}

func (f *CallFilter) match(c *Call) bool {
	switch {
	case f.Key != "" && c.Key != f.Key,
		f.Model != "" && c.Model != f.Model,
		f.Provider != "" && c.Provider != f.Provider,
		f.Priority != "" && c.Priority != f.Priority,
		f.Status != 0 && c.Status != f.Status,
		f.Errors && c.Status < 400,
		!f.Since.IsZero() && c.Time.Before(f.Since):
		return false
	}
	return true
}
