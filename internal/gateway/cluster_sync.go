package gateway

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"aya/internal/cluster"
	"aya/internal/config"
	"aya/internal/llm/serve"
	"aya/internal/policy/cache"
	"aya/internal/policy/consumer"
)

// The kinds of admin change the cluster shares, in the order a node that (re)subscribes
// applies them: consumers before their subscriptions, targets before their drain marks.
const (
	syncConsumers     = "consumers"
	syncSubscriptions = "subscriptions"
	syncLLMKeys       = "llm_keys"
	syncTargets       = "targets"
	syncDrains        = "drains"
	syncPurges        = "purges"
)

// purgeTTL is how long purges stay in Redis for nodes that missed their event: a node whose
// subscription is down longer keeps what those purges would have removed.
const purgeTTL = time.Hour

// openClusterSync makes the LLM keys' budgets, rpm and tpm global (every node counts them in
// the cluster's Redis, and falls back to its own sums while Redis fails) and readies the bus
// that spreads admin changes.
func (g *Gateway) openClusterSync(cs *clusterState) error {
	budgets := cluster.NewBudgets(cs.client, clusterPrefix, cs.cfg.Timeout.D(), cs.log)
	g.llm.ledger.SetBudgetStore(budgets)
	g.llm.ledger.SetLimitStore(budgets)
	cs.bus = cluster.NewBus(cs.client, cs.cfg.Node, cluster.BusOptions{Prefix: clusterPrefix, Timeout: max(cs.cfg.Timeout.D(), time.Second), Log: cs.log})
	cs.bus.Handle(syncConsumers, g.applyConsumer)
	cs.bus.Handle(syncSubscriptions, g.applySubscription)
	cs.bus.Handle(syncLLMKeys, g.applyLLMKey)
	cs.bus.Handle(syncTargets, g.applyTarget)
	cs.bus.Handle(syncDrains, g.applyDrain)
	cs.bus.Handle(syncPurges, g.applyPurge)
	return g.metrics.Register(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "aya_cluster_budget_errors_total",
		Help: "LLM budget and rpm/tpm calls Redis failed: decisions this node then made alone (per-node limits), settlements whose holds stay counted until the period ends.",
	}, func() float64 { return float64(budgets.Errors()) }))
}

// runClusterSync applies the other nodes' admin changes until ctx ends. It waits for g.mu,
// which Start holds until the node's upstreams are live, so that changes read on subscribing
// find them.
func (g *Gateway) runClusterSync(ctx context.Context) {
	cs := g.cluster
	if cs == nil {
		return
	}
	go func() {
		g.mu.Lock()
		ready := g.ready.Load() // false: Start failed and the gateway is closing
		g.mu.Unlock()
		if ready {
			cs.bus.Run(ctx)
		}
	}()
}

// share tells the other nodes about a change this node made. A failure leaves the change on
// this node only, which the log says.
func (g *Gateway) share(ctx context.Context, kind, field string, v any, ttl time.Duration) {
	cs := g.cluster
	if cs == nil {
		return
	}
	b, err := json.Marshal(v)
	if err == nil {
		_, err = cs.bus.Publish(context.WithoutCancel(ctx), kind, field, b, ttl)
	}
	if err != nil {
		cs.log.Error("an admin change was applied on this node only", "kind", kind, "name", field, "error", err)
	}
}

// consumerRecord is a consumer added or replaced (Spec), or deleted.
type consumerRecord struct {
	Spec    *consumer.Spec `json:"spec,omitempty"`
	Deleted bool           `json:"deleted,omitempty"`
}

func (g *Gateway) shareConsumer(ctx context.Context, s consumer.Spec) {
	g.share(ctx, syncConsumers, s.Name, consumerRecord{Spec: &s}, 0)
}

func (g *Gateway) shareConsumerDeleted(ctx context.Context, name string) {
	g.share(ctx, syncConsumers, name, consumerRecord{Deleted: true}, 0)
}

func (g *Gateway) applyConsumer(ctx context.Context, name string, b []byte) error {
	var r consumerRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	if r.Deleted {
		_, err := g.pol.auth.reg.DeleteConsumer(ctx, name)
		return err
	}
	if r.Spec == nil {
		return fmt.Errorf("consumer %s: the record has neither spec nor deleted", name)
	}
	return g.pol.auth.reg.PutConsumer(ctx, *r.Spec)
}

func (g *Gateway) shareSubscription(ctx context.Context, s consumer.Subscription) {
	g.share(ctx, syncSubscriptions, s.ID, s, 0)
}

func (g *Gateway) applySubscription(ctx context.Context, _ string, b []byte) error {
	var s consumer.Subscription
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	return g.pol.auth.reg.PutSubscription(ctx, s)
}

// llmKeyRecord is an admin-created LLM key (its secret's hash only), or its revocation.
type llmKeyRecord struct {
	Spec    *llmKeySpec `json:"spec,omitempty"`
	Hash    string      `json:"hash,omitempty"` // hex SHA-256 of the secret
	Created time.Time   `json:"created,omitzero"`
	Revoked bool        `json:"revoked,omitempty"`
}

func (g *Gateway) shareLLMKey(ctx context.Context, a adminKey) {
	g.share(ctx, syncLLMKeys, a.spec.Name, llmKeyRecord{Spec: &a.spec, Hash: hex.EncodeToString(a.hash[:]), Created: a.created}, 0)
}

func (g *Gateway) shareLLMKeyRevoked(ctx context.Context, name string) {
	g.share(ctx, syncLLMKeys, name, llmKeyRecord{Revoked: true}, 0)
}

// applyLLMKey creates or revokes an admin key as the handlers do, replacing a key of the same
// name (one revoked and created again elsewhere).
func (g *Gateway) applyLLMKey(_ context.Context, name string, b []byte) error {
	var r llmKeyRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	s := g.snap.Load()
	g.llm.mu.Lock()
	i := slices.IndexFunc(g.llm.admin, func(a adminKey) bool { return a.spec.Name == name })
	var old *adminKey
	if i >= 0 {
		old = &g.llm.admin[i]
	}
	g.llm.mu.Unlock()
	if r.Revoked || r.Spec == nil {
		if old == nil {
			return nil
		}
		if err := g.llm.saveKey(*old, true); err != nil {
			return err
		}
		g.llm.mu.Lock()
		g.llm.admin = slices.DeleteFunc(g.llm.admin, func(a adminKey) bool { return a.spec.Name == name })
		g.llm.mu.Unlock()
		if s.llm != nil {
			s.llm.Keys().Remove(name)
		}
		return nil
	}
	var a adminKey
	h, err := hex.DecodeString(r.Hash)
	if err != nil || len(h) != len(a.hash) {
		return fmt.Errorf("llm key %s: the record's hash is not a hex SHA-256", name)
	}
	copy(a.hash[:], h)
	a.spec, a.created = *r.Spec, r.Created
	if old != nil && old.hash == a.hash {
		return nil
	}
	if err := g.llm.saveKey(a, false); err != nil {
		return err
	}
	g.llm.mu.Lock()
	g.llm.admin = append(slices.DeleteFunc(g.llm.admin, func(x adminKey) bool { return x.spec.Name == name }), a)
	g.llm.anyAdmin = true
	g.llm.mu.Unlock()
	if s.llm != nil {
		s.llm.Keys().Remove(name)
		s.llm.Keys().Add(a.hash, g.llm.keyOf(a.spec, llmAliases(s.cfg.LLM)))
	}
	return nil
}

// targetRecord is a target added (or updated) or removed through the admin API.
type targetRecord struct {
	Upstream string `json:"upstream"`
	URL      string `json:"url"`
	Weight   int    `json:"weight,omitempty"`
	Priority int    `json:"priority,omitempty"`
	Backup   bool   `json:"backup,omitempty"`
	Zone     string `json:"zone,omitempty"`
	Removed  bool   `json:"removed,omitempty"`
}

func (g *Gateway) shareTarget(ctx context.Context, upstream string, t config.Target) {
	g.share(ctx, syncTargets, upstream+" "+t.URL, targetRecord{Upstream: upstream, URL: t.URL, Weight: t.Weight, Priority: t.Priority, Backup: t.Backup, Zone: t.Zone}, 0)
}

func (g *Gateway) shareTargetRemoved(ctx context.Context, upstream, url string) {
	g.share(ctx, syncTargets, upstream+" "+url, targetRecord{Upstream: upstream, URL: url, Removed: true}, 0)
}

func (g *Gateway) applyTarget(_ context.Context, _ string, b []byte) error {
	var r targetRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	if r.Removed {
		if _, err := g.reg.RemoveTarget(r.Upstream, r.URL); err != nil {
			return err
		}
		return g.saveTargetChanges(r.Upstream)
	}
	t, err := config.NewTarget(r.URL, max(r.Weight, 1))
	if err != nil {
		return err
	}
	t.Priority, t.Backup, t.Zone = r.Priority, r.Backup, r.Zone
	if err := g.reg.AddTarget(r.Upstream, t); err != nil {
		return err
	}
	return g.saveTargetChanges(r.Upstream)
}

// drainRecord marks a target draining or active again.
type drainRecord struct {
	Upstream string `json:"upstream"`
	URL      string `json:"url"`
	Draining bool   `json:"draining"`
}

func (g *Gateway) shareDrain(ctx context.Context, upstream, url string, on bool) {
	g.share(ctx, syncDrains, upstream+" "+url, drainRecord{upstream, url, on}, 0)
}

func (g *Gateway) applyDrain(_ context.Context, _ string, b []byte) error {
	var r drainRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return err
	}
	p, ok := g.snap.Load().pools[r.Upstream]
	if !ok || !p.pool.SetDraining(r.URL, r.Draining) {
		return fmt.Errorf("upstream %s has no target %s here: is the config the same on every node?", r.Upstream, r.URL)
	}
	return nil
}

// sharePurge tells the other nodes to purge what sel names. Each purge is its own record (a
// random id), kept purgeTTL after the last one.
func (g *Gateway) sharePurge(ctx context.Context, sel cache.Selector) {
	id := make([]byte, 8)
	rand.Read(id) // crypto/rand.Read never fails
	g.share(ctx, syncPurges, hex.EncodeToString(id), sel, purgeTTL)
}

func (g *Gateway) applyPurge(_ context.Context, _ string, b []byte) error {
	var sel cache.Selector
	if err := json.Unmarshal(b, &sel); err != nil {
		return err
	}
	if s := g.pol.cache.current(); s != nil {
		s.Purge(sel)
	}
	return nil
}

// The ledger takes the cluster's budgets as its BudgetStore and LimitStore.
var (
	_ serve.BudgetStore = (*cluster.Budgets)(nil)
	_ serve.LimitStore  = (*cluster.Budgets)(nil)
)
