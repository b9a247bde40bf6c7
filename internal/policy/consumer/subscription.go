package consumer

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Status is where a subscription stands. Only Approved lets the consumer call the API.
type Status string

// Subscription statuses.
const (
	Approved Status = "approved"
	Pending  Status = "pending"
	Revoked  Status = "revoked"
)

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return s == Approved || s == Pending || s == Revoked }

// Subscription lets Consumer call the routes of API while approved.
type Subscription struct {
	ID       string    `json:"id"`
	Consumer string    `json:"consumer"`
	API      string    `json:"api"`
	Status   Status    `json:"status"`
	Updated  time.Time `json:"updated,omitzero"`
	// Source is "config" for the file's subscriptions, "admin" for the admin API's.
	Source string `json:"source"`
}

// SubscriptionID is the id of consumer's subscription to api. It is derived from the pair, so
// the file's and the admin API's records of one subscription share it and a second request for
// the same pair finds the first.
func SubscriptionID(consumer, api string) string {
	h := sha256.New()
	h.Write([]byte(consumer))
	h.Write([]byte{0})
	h.Write([]byte(api))
	return "sub_" + hex.EncodeToString(h.Sum(nil)[:6])
}

type pair struct{ consumer, api string }

// Subscriptions is an immutable table of subscriptions.
type Subscriptions struct {
	byPair map[pair]*Subscription
	byID   map[string]*Subscription
	order  []*Subscription
}

// NewSubscriptions indexes list; a later record of the same pair replaces an earlier one.
func NewSubscriptions(list []Subscription) *Subscriptions {
	t := &Subscriptions{byPair: make(map[pair]*Subscription, len(list)), byID: make(map[string]*Subscription, len(list))}
	for i := range list {
		s := list[i]
		if s.ID == "" {
			s.ID = SubscriptionID(s.Consumer, s.API)
		}
		p := pair{s.Consumer, s.API}
		if old, ok := t.byPair[p]; ok {
			*old = s
			continue
		}
		t.byPair[p] = &s
		t.byID[s.ID] = &s
		t.order = append(t.order, &s)
	}
	return t
}

func (t *Subscriptions) get(consumer, api string) *Subscription {
	if t == nil {
		return nil
	}
	return t.byPair[pair{consumer, api}]
}

func (t *Subscriptions) byIDOf(id string) *Subscription {
	if t == nil {
		return nil
	}
	return t.byID[id]
}

// List returns the subscriptions in the order given.
func (t *Subscriptions) List() []Subscription {
	if t == nil {
		return nil
	}
	out := make([]Subscription, len(t.order))
	for i, s := range t.order {
		out[i] = *s
	}
	return out
}
