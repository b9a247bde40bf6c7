package gateway

import (
	"context"
	"encoding/hex"
	"fmt"
	"maps"
	"sort"
	"sync"
	"time"

	"aya/internal/llm/serve"
	"aya/internal/policy/consumer"
	"aya/internal/store"
	"aya/internal/upstream"
)

// Buckets of the durable store.
const (
	bucketLLMKeys  = "llm_keys"  // admin-created virtual keys (hash only), by name
	bucketLLMUsage = "llm_usage" // every key's spend and totals, by name
	bucketTargets  = "targets"   // the admin API's target changes, by upstream name
)

// storedLLMKey is an admin-created key as the store keeps it.
type storedLLMKey struct {
	Spec    llmKeySpec `json:"spec"`
	Hash    string     `json:"sha256"`
	Created time.Time  `json:"created"`
}

// openStore opens data_dir's store (when set) and loads what the gateway keeps there. The
// directory is read once: a reload that changes data_dir takes effect at the next start.
func (g *Gateway) openStore(dataDir string) error {
	if dataDir == "" {
		return nil
	}
	s, err := store.Open(dataDir)
	if err != nil {
		return err
	}
	g.store = s
	reg, err := consumer.NewRegistry(context.Background(), &consumerStore{s: s})
	if err != nil {
		return fmt.Errorf("data_dir %s: %w", dataDir, err)
	}
	g.pol.auth.reg = reg
	err = store.List(s, bucketTargets, func(name string, c upstream.AdminChanges) { g.reg.RestoreChanges(name, c) })
	if err != nil {
		return fmt.Errorf("data_dir %s: loading the admin API's target changes: %w", dataDir, err)
	}
	return g.llm.load(s)
}

// saveTargetChanges writes the admin API's changes to upstream name's targets through to the
// store, so a restart keeps them (a reload keeps them anyway).
func (g *Gateway) saveTargetChanges(name string) error {
	if g.store == nil {
		return nil
	}
	return g.store.Put(bucketTargets, name, g.reg.Changes(name))
}

// closeStore saves what is pending and closes the store.
func (g *Gateway) closeStore() {
	if g.store == nil {
		return
	}
	if err := g.llm.flush(); err != nil {
		g.log.Error("saving LLM key usage at shutdown failed", "error", err)
	}
	g.store.Close()
}

// load restores admin keys and key usage from s, and keeps s for later writes.
func (st *llmState) load(s *store.Store) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.store = s
	err := store.List(s, bucketLLMKeys, func(name string, k storedLLMKey) {
		var h [32]byte
		if b, err := hex.DecodeString(k.Hash); err == nil && len(b) == 32 {
			copy(h[:], b)
			st.admin = append(st.admin, adminKey{spec: k.Spec, hash: h, created: k.Created})
			st.anyAdmin = true
		}
	})
	if err != nil {
		return fmt.Errorf("loading LLM keys from the data_dir store: %w", err)
	}
	st.flushed = map[string]serve.UsageRecord{}
	err = store.List(s, bucketLLMUsage, func(name string, r serve.UsageRecord) {
		st.ledger.Restore(name, r)
		st.flushed[name] = r
	})
	if err != nil {
		return fmt.Errorf("loading LLM key usage from the data_dir store: %w", err)
	}
	return nil
}

// saveKey writes an admin key (or, with deleted, removes it) through to the store.
func (st *llmState) saveKey(a adminKey, deleted bool) error {
	if st.store == nil {
		return nil
	}
	if deleted {
		return st.store.Delete(bucketLLMKeys, a.spec.Name)
	}
	return st.store.Put(bucketLLMKeys, a.spec.Name, storedLLMKey{Spec: a.spec, Hash: hex.EncodeToString(a.hash[:]), Created: a.created})
}

// flush writes the usage that changed since the last flush, in one transaction.
func (st *llmState) flush() error {
	if st.store == nil {
		return nil
	}
	recs := st.ledger.Records()
	changed := map[string]serve.UsageRecord{}
	st.flushMu.Lock()
	defer st.flushMu.Unlock()
	for name, r := range recs {
		if old, ok := st.flushed[name]; !ok || old != r {
			changed[name] = r
		}
	}
	if len(changed) == 0 {
		return nil
	}
	if err := store.PutAll(st.store, bucketLLMUsage, changed); err != nil {
		return err
	}
	maps.Copy(st.flushed, changed)
	return nil
}

// runFlush saves key usage every interval until ctx ends: a crash loses at most that much
// spend, and no call waits for a disk sync.
func (st *llmState) runFlush(ctx context.Context, every time.Duration, log interface{ Error(string, ...any) }) {
	if st.store == nil {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := st.flush(); err != nil {
				log.Error("saving LLM key usage to the data_dir store failed; retrying", "error", err)
			}
		}
	}
}

// Buckets of the consumers the admin API added.
const (
	bucketConsumers     = "consumers"     // by name: storedConsumer
	bucketSubscriptions = "subscriptions" // by id
)

// storedConsumer keeps the order consumers were first put in, which Load must return.
type storedConsumer struct {
	Seq  uint64        `json:"seq"`
	Spec consumer.Spec `json:"spec"`
}

// consumerStore is consumer.Store over the data_dir store: the admin API's consumers (with
// key hashes and bcrypt hashes only) and subscriptions survive a restart.
type consumerStore struct {
	s   *store.Store
	mu  sync.Mutex // orders seq
	seq uint64
}

func (c *consumerStore) Load(context.Context) ([]consumer.Spec, []consumer.Subscription, error) {
	var all []storedConsumer
	if err := store.List(c.s, bucketConsumers, func(_ string, v storedConsumer) { all = append(all, v) }); err != nil {
		return nil, nil, err
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Seq < all[j].Seq })
	specs := make([]consumer.Spec, len(all))
	for i, v := range all {
		specs[i] = v.Spec
		c.seq = max(c.seq, v.Seq)
	}
	var subs []consumer.Subscription
	err := store.List(c.s, bucketSubscriptions, func(_ string, v consumer.Subscription) { subs = append(subs, v) })
	return specs, subs, err
}

func (c *consumerStore) PutConsumer(_ context.Context, s consumer.Spec) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var old storedConsumer
	ok, err := c.s.Get(bucketConsumers, s.Name, &old)
	if err != nil {
		return err
	}
	seq := old.Seq
	if !ok {
		c.seq++
		seq = c.seq
	}
	return c.s.Put(bucketConsumers, s.Name, storedConsumer{Seq: seq, Spec: s})
}

func (c *consumerStore) DeleteConsumer(_ context.Context, name string) (bool, error) {
	var old storedConsumer
	ok, err := c.s.Get(bucketConsumers, name, &old)
	if err != nil || !ok {
		return false, err
	}
	return true, c.s.Delete(bucketConsumers, name)
}

func (c *consumerStore) PutSubscription(_ context.Context, s consumer.Subscription) error {
	return c.s.Put(bucketSubscriptions, s.ID, s)
}
