package consumer

import (
	"context"
	"slices"
	"sync"
)

// Store keeps what the admin API adds (consumers, subscriptions) for a Registry. Memory is the
// default; a durable store (bbolt on one node, Redis in a cluster) implements the same four
// methods.
type Store interface {
	// Load returns everything stored, consumers in the order they were first put.
	Load(ctx context.Context) ([]Spec, []Subscription, error)
	// PutConsumer adds or replaces the consumer of s.Name.
	PutConsumer(ctx context.Context, s Spec) error
	// DeleteConsumer removes the named consumer and reports whether it existed.
	DeleteConsumer(ctx context.Context, name string) (bool, error)
	// PutSubscription adds or replaces the subscription of s.ID.
	PutSubscription(ctx context.Context, s Subscription) error
}

// Memory is a Store that lives as long as the process.
type Memory struct {
	mu        sync.Mutex
	consumers []Spec
	subs      []Subscription
}

// Load returns copies of what is stored.
func (m *Memory) Load(context.Context) ([]Spec, []Subscription, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.consumers), slices.Clone(m.subs), nil
}

// PutConsumer adds or replaces s.
func (m *Memory) PutConsumer(_ context.Context, s Spec) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i := slices.IndexFunc(m.consumers, func(c Spec) bool { return c.Name == s.Name }); i >= 0 {
		m.consumers[i] = s
		return nil
	}
	m.consumers = append(m.consumers, s)
	return nil
}

// DeleteConsumer removes the named consumer.
func (m *Memory) DeleteConsumer(_ context.Context, name string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.consumers)
	m.consumers = slices.DeleteFunc(m.consumers, func(c Spec) bool { return c.Name == name })
	return len(m.consumers) != n, nil
}

// PutSubscription adds or replaces s.
func (m *Memory) PutSubscription(_ context.Context, s Subscription) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if i := slices.IndexFunc(m.subs, func(x Subscription) bool { return x.ID == s.ID }); i >= 0 {
		m.subs[i] = s
		return nil
	}
	m.subs = append(m.subs, s)
	return nil
}
