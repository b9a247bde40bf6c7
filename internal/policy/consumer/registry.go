package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Registry holds what the admin API added, over a Store, as an immutable table that requests
// read with one atomic load. It outlives config reloads.
type Registry struct {
	store Store
	mu    sync.Mutex // serializes writes: each rebuilds the table from the store
	cur   atomic.Pointer[layer]
}

type layer struct {
	dir  *Directory
	subs *Subscriptions
}

// NewRegistry returns a registry over store, loaded with what it holds.
func NewRegistry(ctx context.Context, store Store) (*Registry, error) {
	r := &Registry{store: store}
	r.cur.Store(&layer{dir: &Directory{}, subs: &Subscriptions{}})
	if err := r.reload(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Registry) reload(ctx context.Context) error {
	specs, subs, err := r.store.Load(ctx)
	if err != nil {
		return fmt.Errorf("load consumers: %w", err)
	}
	d, err := NewDirectory(specs)
	if err != nil {
		return fmt.Errorf("load consumers: %w", err)
	}
	for i := range subs {
		subs[i].Source = "admin"
	}
	r.cur.Store(&layer{dir: d, subs: NewSubscriptions(subs)})
	return nil
}

func (r *Registry) layer() *layer { return r.cur.Load() }

// PutConsumer adds or replaces the consumer s.Name. It is refused when one of its credentials
// is another stored consumer's.
// ErrStore marks an error of the Store under a Registry (a disk or network failure), as
// opposed to a refused change (a key another consumer holds).
var ErrStore = errors.New("the consumer store failed")

func (r *Registry) PutConsumer(ctx context.Context, s Spec) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	specs := r.withConsumer(s)
	if _, err := NewDirectory(specs); err != nil {
		return err
	}
	if err := r.store.PutConsumer(ctx, s); err != nil {
		return fmt.Errorf("store consumer %q: %w: %w", s.Name, ErrStore, err)
	}
	return r.reload(ctx)
}

func (r *Registry) withConsumer(s Spec) []Spec {
	var specs []Spec
	replaced := false
	for _, e := range r.layer().dir.Entries() {
		if e.Spec.Name == s.Name {
			specs, replaced = append(specs, s), true
			continue
		}
		specs = append(specs, e.Spec)
	}
	if !replaced {
		specs = append(specs, s)
	}
	return specs
}

// DeleteConsumer removes the named consumer and reports whether the registry held it.
func (r *Registry) DeleteConsumer(ctx context.Context, name string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ok, err := r.store.DeleteConsumer(ctx, name)
	if err != nil {
		return false, fmt.Errorf("delete consumer %q: %w", name, err)
	}
	return ok, r.reload(ctx)
}

// PutSubscription adds or replaces s (by its ID, derived from consumer and API when empty).
func (r *Registry) PutSubscription(ctx context.Context, s Subscription) error {
	if !s.Status.Valid() {
		return fmt.Errorf("subscription status %q: use approved, pending or revoked", s.Status)
	}
	if s.ID == "" {
		s.ID = SubscriptionID(s.Consumer, s.API)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.store.PutSubscription(ctx, s); err != nil {
		return fmt.Errorf("store subscription %s: %w", s.ID, err)
	}
	return r.reload(ctx)
}
