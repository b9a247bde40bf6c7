package gateway

import (
	"context"
	"encoding/hex"
	"fmt"
	"maps"
	"time"

	"aya/internal/llm/serve"
	"aya/internal/store"
)

// Buckets of the durable store.
const (
	bucketLLMKeys  = "llm_keys"  // admin-created virtual keys (hash only), by name
	bucketLLMUsage = "llm_usage" // every key's spend and totals, by name
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
	return g.llm.load(s)
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
