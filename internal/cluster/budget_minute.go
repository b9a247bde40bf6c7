package cluster

import (
	"context"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"
)

// admitScript counts a request in a key's minute, or refuses it when the minute's requests or
// tokens are used up (0: no limit). Returns "" or the limit refused on.
var admitScript = goredis.NewScript(`
local v = redis.call('HMGET', KEYS[1], 'requests', 'tokens')
local r, t = tonumber(v[1] or 0), tonumber(v[2] or 0)
local rpm, tpm = tonumber(ARGV[1]), tonumber(ARGV[2])
if rpm > 0 and r >= rpm then return 'requests' end
if tpm > 0 and t >= tpm then return 'tokens' end
redis.call('HINCRBY', KEYS[1], 'requests', 1)
redis.call('EXPIRE', KEYS[1], 120)
return ''
`)

// addTokensScript adds a call's tokens to a key's minute.
var addTokensScript = goredis.NewScript(`
redis.call('HINCRBY', KEYS[1], 'tokens', ARGV[1])
redis.call('EXPIRE', KEYS[1], 120)
return 0
`)

func (b *Budgets) minuteKey(name string, minute int64) string {
	return b.prefix + "minute:" + name + ":" + strconv.FormatInt(minute, 10)
}

// Admit counts a request in the key's minute, or names the limit ("requests" or "tokens")
// the minute has used up.
func (b *Budgets) Admit(ctx context.Context, name string, minute int64, rpm, tpm int) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	res, err := admitScript.Run(ctx, b.client, []string{b.minuteKey(name, minute)}, rpm, tpm).Text()
	if err != nil {
		return "", b.failed(fmt.Errorf("counting key %s's request in Redis: %w", name, err))
	}
	b.answered()
	return res, nil
}

// AddTokens adds a finished call's tokens to the key's minute.
func (b *Budgets) AddTokens(ctx context.Context, name string, minute int64, tokens int) error {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	if err := addTokensScript.Run(ctx, b.client, []string{b.minuteKey(name, minute)}, tokens).Err(); err != nil {
		return b.failed(fmt.Errorf("adding key %s's tokens in Redis: %w", name, err))
	}
	b.answered()
	return nil
}
