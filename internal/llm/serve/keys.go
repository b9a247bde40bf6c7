package serve

import (
	"context"
	"crypto/sha256"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"aya/internal/httpx"
	"aya/internal/llm"
	"aya/internal/observe"
)

// Key is a virtual key: who is calling, what they may use, and their limits. A reload rebuilds
// keys from the config; what they used lives in their *Usage, which the Ledger hands over.
type Key struct {
	Name   string
	Models map[string]bool // public model names allowed; nil: all
	RPM    int             // requests per minute, 0: no limit
	TPM    int             // tokens per minute, 0: no limit
	Budget *Budget         // nil: no budget
	// Priority ranks the key's calls at saturated deployments (zero: medium);
	// AllowPriorityHeader lets a call choose its own with x-aya-priority; Batch makes every
	// call batch (spare capacity only, waiting instead of 429).
	Priority            Priority
	AllowPriorityHeader bool
	Batch               bool

	*Usage
}

// Usage is what one key has used. It outlives the Key: a reload that changes a key's limits
// must not forget its minute's requests or its month's spend.
type Usage struct {
	mu       sync.Mutex
	window   int64 // the minute (unix seconds / 60) the counters below are for
	requests int
	tokens   int

	// The budget period (see Budget) and what it consumed and holds for calls in flight.
	period     int64
	usedTokens int64
	usedUSD    float64
	heldTokens int64
	heldUSD    float64

	ledger *Ledger // nil: a key outside a ledger, budgets in memory only

	// Totals since aya started.
	Requests     atomic.Int64
	InputTokens  atomic.Int64
	OutputTokens atomic.Int64
	costMicros   atomic.Int64
}

// Ledger keeps every key's Usage by key name, across reloads.
type Ledger struct {
	mu      sync.Mutex
	m       map[string]*Usage
	budgets BudgetStore // nil: budgets are this node's
	limits  LimitStore  // nil: rpm and tpm are this node's
}

// store is the BudgetStore u's budget is kept in, or nil.
func (u *Usage) store() BudgetStore {
	if u.ledger == nil {
		return nil
	}
	return u.ledger.budgets
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{m: map[string]*Usage{}} }

// Usage returns the usage of the key named name, created on first use.
func (l *Ledger) Usage(name string) *Usage {
	l.mu.Lock()
	defer l.mu.Unlock()
	u, ok := l.m[name]
	if !ok {
		u = &Usage{ledger: l}
		l.m[name] = u
	}
	return u
}

// CostUSD is what the key's calls cost since aya started.
func (k *Key) CostUSD() float64 { return float64(k.costMicros.Load()) / 1e6 }

// remaining is what is left of the key's minute: requests and tokens (-1 where unlimited).
func (k *Key) remaining(now time.Time) (requests, tokens int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.roll(now)
	requests, tokens = -1, -1
	if k.RPM > 0 {
		requests = max(k.RPM-k.requests, 0)
	}
	if k.TPM > 0 {
		tokens = max(k.TPM-k.tokens, 0)
	}
	return requests, tokens
}

// admit counts a request against the key's RPM, and refuses it when the minute's requests or
// tokens are used up. With a LimitStore the store decides; only when it fails does this
// node's own count decide. The node counts the request either way (its headers show it).
func (k *Key) admit(ctx context.Context, now time.Time) *llm.Error {
	if k.RPM == 0 && k.TPM == 0 {
		return nil
	}
	refused, shared := "", false
	if s := k.Usage.limitStore(); s != nil {
		refused, shared = k.admitShared(ctx, s, now)
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.roll(now)
	overRPM, overTPM := k.RPM > 0 && k.requests >= k.RPM, k.TPM > 0 && k.tokens >= k.TPM
	if shared {
		overRPM, overTPM = refused == "requests", refused == "tokens"
	}
	retry := time.Duration(60-now.Unix()%60) * time.Second
	switch {
	case overRPM:
		return &llm.Error{Status: 429, Type: llm.ErrRateLimit, Code: "rate_limit_exceeded", RetryAfter: retry,
			Message: "key " + k.Name + ": requests per minute limit reached (" + strconv.Itoa(k.RPM) + "): wait for the next minute"}
	case overTPM:
		return &llm.Error{Status: 429, Type: llm.ErrRateLimit, Code: "rate_limit_exceeded", RetryAfter: retry,
			Message: "key " + k.Name + ": tokens per minute limit reached (" + strconv.Itoa(k.TPM) + "): wait for the next minute"}
	}
	k.requests++
	return nil
}

func (k *Key) roll(now time.Time) {
	if w := now.Unix() / 60; w != k.window {
		k.window, k.requests, k.tokens = w, 0, 0
	}
}

// settle adds a finished call's usage and cost.
func (k *Key) settle(now time.Time, u llm.Usage, cost float64) {
	k.Requests.Add(1)
	k.InputTokens.Add(int64(u.Input))
	k.OutputTokens.Add(int64(u.Output))
	k.costMicros.Add(int64(cost * 1e6))
	if k.TPM > 0 {
		if s := k.Usage.limitStore(); s != nil {
			k.addTokensShared(s, now, u.Total())
		}
		k.mu.Lock()
		k.roll(now)
		k.tokens += u.Total()
		k.mu.Unlock()
	}
}

func (k *Key) allows(model string) bool { return k.Models == nil || k.Models[model] }

// Keys finds the virtual key a request carries. Keys are held by their SHA-256, so the config's
// secrets are not kept in memory in the clear longer than building takes. The admin API adds
// and removes keys while requests run: the index is replaced, never changed in place.
type Keys struct {
	byHash atomic.Pointer[map[[32]byte]*Key]
	mu     sync.Mutex // serializes Add and Remove
	open   atomic.Pointer[Key]
}

// HashSecret is how a key's secret is stored and looked up.
func HashSecret(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// NewKeys indexes keys by their secret. With none, every request is let in as "anonymous"
// until a key is added (or RequireKeys is called).
func NewKeys(secrets []string, keys []*Key) *Keys {
	m := make(map[[32]byte]*Key, len(keys))
	for i, s := range secrets {
		if keys[i].Usage == nil {
			keys[i].Usage = &Usage{}
		}
		m[HashSecret(s)] = keys[i]
	}
	ks := &Keys{}
	ks.byHash.Store(&m)
	if len(keys) == 0 {
		ks.open.Store(&Key{Name: "anonymous", Usage: &Usage{}})
	}
	return ks
}

// RequireKeys ends anonymous access: from now on every request needs a key.
func (ks *Keys) RequireKeys() { ks.open.Store(nil) }

// Add lets the key whose secret hashes to hash in, as k. It also ends anonymous access.
func (ks *Keys) Add(hash [32]byte, k *Key) {
	if k.Usage == nil {
		k.Usage = &Usage{}
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	old := *ks.byHash.Load()
	m := make(map[[32]byte]*Key, len(old)+1)
	for h, v := range old {
		m[h] = v
	}
	m[hash] = k
	ks.byHash.Store(&m)
	ks.open.Store(nil)
}

// Remove revokes every secret of the key named name; it reports whether there was one.
func (ks *Keys) Remove(name string) bool {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	old := *ks.byHash.Load()
	m := make(map[[32]byte]*Key, len(old))
	found := false
	for h, v := range old {
		if v.Name == name {
			found = true
			continue
		}
		m[h] = v
	}
	ks.byHash.Store(&m)
	return found
}

// List returns every key (one per name), in no particular order.
func (ks *Keys) List() []*Key {
	seen := map[string]bool{}
	var out []*Key
	for _, k := range *ks.byHash.Load() {
		if !seen[k.Name] {
			seen[k.Name] = true
			out = append(out, k)
		}
	}
	return out
}

// Find returns the key of r (Authorization: Bearer, or x-api-key as the Anthropic SDK sends).
func (ks *Keys) Find(r *httpx.Request) (*Key, *llm.Error) {
	if k := ks.open.Load(); k != nil {
		return k, nil
	}
	secret := r.Header.Get("x-api-key")
	if a := r.Header.Get("Authorization"); secret == "" && len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
		secret = strings.TrimSpace(a[7:])
	}
	if secret == "" {
		return nil, &llm.Error{Status: 401, Type: llm.ErrAuthentication, Message: "no API key: send it as Authorization: Bearer KEY or x-api-key: KEY"}
	}
	h := HashSecret(secret)
	// A map lookup by hash: timing reveals at most something about a hash, not the secret.
	if k, ok := (*ks.byHash.Load())[h]; ok {
		observe.NoteConsumer(r, k.Name) // the access log names the key
		return k, nil
	}
	return nil, &llm.Error{Status: 401, Type: llm.ErrAuthentication, Message: "invalid API key: check the key aya's operator gave you"}
}

// UsageRecord is a key's usage as it is saved across restarts: the budget period's spend and
// the totals. The minute's counters and the holds of calls in flight are not kept.
type UsageRecord struct {
	Period       int64   `json:"period"`
	UsedTokens   int64   `json:"used_tokens"`
	UsedUSD      float64 `json:"used_usd"`
	Requests     int64   `json:"requests"`
	InputTokens  int64   `json:"input_tokens"`
	OutputTokens int64   `json:"output_tokens"`
	CostMicros   int64   `json:"cost_micros"`
}

// Records returns every key's usage by key name.
func (l *Ledger) Records() map[string]UsageRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]UsageRecord, len(l.m))
	for name, u := range l.m {
		u.mu.Lock()
		r := UsageRecord{Period: u.period, UsedTokens: u.usedTokens, UsedUSD: u.usedUSD}
		u.mu.Unlock()
		r.Requests, r.InputTokens, r.OutputTokens, r.CostMicros = u.Requests.Load(), u.InputTokens.Load(), u.OutputTokens.Load(), u.costMicros.Load()
		out[name] = r
	}
	return out
}

// Restore sets the usage of the key named name from a saved record (at start, before calls).
func (l *Ledger) Restore(name string, r UsageRecord) {
	u := l.Usage(name)
	u.mu.Lock()
	u.period, u.usedTokens, u.usedUSD = r.Period, r.UsedTokens, r.UsedUSD
	u.mu.Unlock()
	u.Requests.Store(r.Requests)
	u.InputTokens.Store(r.InputTokens)
	u.OutputTokens.Store(r.OutputTokens)
	u.costMicros.Store(r.CostMicros)
}
