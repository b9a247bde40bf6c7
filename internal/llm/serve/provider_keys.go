package serve

import (
	"strconv"
	"sync/atomic"
	"time"
)

// ProviderKey is one of several API keys a deployment's provider has (providers[].api_keys),
// with its own adapter (its auth header) and its own cooldown: a key rate limited or out of
// quota sits out alone while the deployment goes on with the others.
type ProviderKey struct {
	Provider Provider
	// Label names the key in logs, metrics and the admin API without its secret: its position
	// and last four characters, as OpenAI's dashboard shows them ("#2 …a1b2").
	Label string

	cooldown atomic.Int64 // unix nanoseconds until which the key sits out
}

// KeyLabel is how a key is named where its secret must not show.
func KeyLabel(i int, secret string) string {
	tail := secret
	if len(tail) > 4 {
		tail = tail[len(tail)-4:]
	}
	return "#" + strconv.Itoa(i+1) + " …" + tail
}

// Cooling reports whether the key sits out at now.
func (k *ProviderKey) Cooling(now time.Time) bool { return k.cooldown.Load() > now.UnixNano() }

// CoolingUntil is when the key's cooldown ends (zero time: it is not cooling).
func (k *ProviderKey) CoolingUntil(now time.Time) time.Time {
	if u := k.cooldown.Load(); u > now.UnixNano() {
		return time.Unix(0, u)
	}
	return time.Time{}
}

// pick chooses the key for a call: round robin among the keys not cooling, or, when all are,
// the one whose cooldown ends first. nil: the deployment has one key (its Provider).
func (d *Deployment) pick(clock func() time.Time) *ProviderKey {
	n := uint32(len(d.Keys))
	if n == 0 {
		return nil
	}
	now := clock()
	start := d.nextKey.Add(1) - 1
	var best *ProviderKey
	for j := range n {
		k := d.Keys[(start+j)%n]
		if !k.Cooling(now) {
			return k
		}
		if best == nil || k.cooldown.Load() < best.cooldown.Load() {
			best = k
		}
	}
	return best
}

// keysCooling reports whether every key of a several-key deployment sits out.
func (d *Deployment) keysCooling(now time.Time) bool {
	if len(d.Keys) == 0 {
		return false
	}
	for _, k := range d.Keys {
		if !k.Cooling(now) {
			return false
		}
	}
	return true
}

// provider is the adapter a call goes through: the picked key's, or the deployment's own.
func (d *Deployment) provider(k *ProviderKey) Provider {
	if k != nil {
		return k.Provider
	}
	return d.Provider
}

// succeeded ends the run of failures that counts towards cooldown_after (keys cool only on
// rate limits and auth failures, at once, so they keep no count). The load keeps the common
// case free of writes to a shared cache line.
func (d *Deployment) succeeded() {
	if d.failures.Load() != 0 {
		d.failures.Store(0)
	}
}
