package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// reserveScript holds a call's estimate against a key's budget for one period, or refuses it:
// used + held + estimate must stay within each cap (0: no cap). One script, so two nodes
// reserving at once cannot both take the last of a budget. Returns "" or the cap refused on.
var reserveScript = goredis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'used_tokens', 'held_tokens', 'used_micros', 'held_micros')
local ut, ht, uu, hu = tonumber(v[1] or 0), tonumber(v[2] or 0), tonumber(v[3] or 0), tonumber(v[4] or 0)
local capT, capU, estT, estU = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if capT > 0 and ut + ht + estT > capT then return 'token' end
if capU > 0 and uu + hu + estU > capU then return 'dollar' end
redis.call('HINCRBY', KEYS[1], 'held_tokens', estT)
redis.call('HINCRBY', KEYS[1], 'held_micros', estU)
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return ''
`)

// settleScript releases a hold and adds the call's real usage.
var settleScript = goredis.NewScript(`
redis.call('HINCRBY', KEYS[1], 'held_tokens', 0 - tonumber(ARGV[1]))
redis.call('HINCRBY', KEYS[1], 'held_micros', 0 - tonumber(ARGV[2]))
redis.call('HINCRBY', KEYS[1], 'used_tokens', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'used_micros', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 0
`)

// Budgets keeps LLM key budgets in Redis, one hash per key and period, and the keys' requests
// and tokens per minute, so every node's calls count against one budget and one rpm and tpm.
// It counts its failures; the caller falls back to its own sums.
type Budgets struct {
	client  goredis.UniversalClient
	prefix  string
	timeout time.Duration
	log     *slog.Logger

	errs atomic.Int64
	down atomic.Bool // the last call failed: logged once per outage
}

// NewBudgets keeps budgets under prefix+"budget:" in client; each call waits at most timeout.
func NewBudgets(client goredis.UniversalClient, prefix string, timeout time.Duration, log *slog.Logger) *Budgets {
	return &Budgets{client: client, prefix: prefix + "budget:", timeout: timeout, log: log}
}

func (b *Budgets) key(name string, period int64) string {
	return b.prefix + name + ":" + strconv.FormatInt(period, 10)
}

// Reserve holds est against the key's budget, or names the cap ("token" or "dollar") it
// would pass.
func (b *Budgets) Reserve(ctx context.Context, name string, period int64, ttl time.Duration, capTokens, capMicros, estTokens, estMicros int64) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	res, err := reserveScript.Run(ctx, b.client, []string{b.key(name, period)}, capTokens, capMicros, estTokens, estMicros, ttl.Milliseconds()).Text()
	if err != nil {
		return "", b.failed(fmt.Errorf("reserving key %s's budget in Redis: %w", name, err))
	}
	b.answered()
	return res, nil
}

// Settle releases a hold and adds what the call used.
func (b *Budgets) Settle(ctx context.Context, name string, period int64, ttl time.Duration, heldTokens, heldMicros, tokens, micros int64) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if err := settleScript.Run(ctx, b.client, []string{b.key(name, period)}, heldTokens, heldMicros, tokens, micros, ttl.Milliseconds()).Err(); err != nil {
		return b.failed(fmt.Errorf("settling key %s's budget in Redis (its hold stays counted until the period ends): %w", name, err))
	}
	b.answered()
	return nil
}

// Used is what the key's calls used in period, on every node (holds not counted).
func (b *Budgets) Used(ctx context.Context, name string, period int64) (tokens, micros int64, err error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	v, err := b.client.HMGet(ctx, b.key(name, period), "used_tokens", "used_micros").Result()
	if err != nil {
		return 0, 0, b.failed(fmt.Errorf("reading key %s's budget from Redis: %w", name, err))
	}
	b.answered()
	num := func(x any) int64 {
		s, _ := x.(string) // nil: nothing used yet this period
		n, _ := strconv.ParseInt(s, 10, 64)
		return n
	}
	return num(v[0]), num(v[1]), nil
}

// Errors is how many Redis calls failed: reservations each node then decided alone, and
// settlements whose holds stay counted.
func (b *Budgets) Errors() int64 { return b.errs.Load() }

func (b *Budgets) failed(err error) error {
	b.errs.Add(1)
	if b.down.CompareAndSwap(false, true) {
		b.log.Error("Redis failed; LLM budgets are per node until it answers", "error", err)
	}
	return err
}

func (b *Budgets) answered() {
	if b.down.CompareAndSwap(true, false) {
		b.log.Info("Redis answers again; LLM budgets are global again")
	}
}
