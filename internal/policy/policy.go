// Package policy holds what every route policy shares: the Middleware type the gateway chains,
// the authenticated Consumer, and the per-request State that carries what one policy learned
// (who the caller is, its JWT claims) to the policies after it, to logs and to metrics.
//
// Each policy lives in its own package under internal/policy/<name> and builds a Middleware
// from its own options. Policy packages must not import the gateway or the config package's
// loader; the gateway turns config into their options.
package policy

import (
	"context"

	"aya/internal/httpx"
)

// Middleware wraps the next handler of a route's chain. It is called once per config (when the
// runtime snapshot is built), never per request.
type Middleware func(next httpx.Handler) httpx.Handler

// Chain applies ms so that ms[0] runs first: Chain(h, a, b) serves a(b(h)).
func Chain(h httpx.Handler, ms ...Middleware) httpx.Handler {
	for i := len(ms) - 1; i >= 0; i-- {
		h = ms[i](h)
	}
	return h
}

// Consumer is an authenticated caller. Consumers come from the config and the admin API; they
// are shared and read-only once built, so a policy may keep the pointer past the request.
type Consumer struct {
	Name   string
	Tenant string
	Groups []string
	// Metadata is free-form operator data (plan, owner, contact), exposed to transforms.
	Metadata map[string]string
}

// InGroup reports whether the consumer belongs to group.
func (c *Consumer) InGroup(group string) bool {
	if c == nil {
		return false
	}
	for _, g := range c.Groups {
		if g == group {
			return true
		}
	}
	return false
}

// State is what policies learn about one request and hand on to later policies. The gateway
// keeps one per request in pooled memory and resets it when the request ends, so nothing may
// hold a State (or strings in it that point into the request) after the handler returned.
type State struct {
	// Route is the name of the matched route.
	Route string
	// Consumer is who the caller authenticated as; nil: anonymous.
	Consumer *Consumer
	// Credential names how the consumer authenticated ("api_key", "basic", "jwt", "oauth2").
	Credential string
	// Claims are the verified token's claims as strings (JWT or introspection), for transforms
	// and upstream headers. Values are copies, safe to keep for the request's lifetime.
	Claims []httpx.Field
}

// Claim returns the value of the named claim, or "".
func (s *State) Claim(name string) string {
	for i := range s.Claims {
		if s.Claims[i].Name == name {
			return s.Claims[i].Value
		}
	}
	return ""
}

// Reset clears s for the next request, keeping the claims slice's memory.
func (s *State) Reset() {
	*s = State{Claims: s.Claims[:0]}
}

type stateKey struct{}

// StateKey is the context key under which a request that did not come through the gateway (a
// unit test, an internal call) finds its *State.
var StateKey any = stateKey{}

// Holder is per-request memory that holds a State: the gateway's, in httpx.Request.Local, so
// that no context.WithValue is needed per request.
type Holder interface {
	PolicyState() *State
}

// From returns the request's State. A request that did not come through the gateway gets the
// one in its context (WithState), or else a fresh one that is not shared with anything.
func From(r *httpx.Request) *State {
	if h, ok := r.Local.(Holder); ok {
		return h.PolicyState()
	}
	if s, ok := r.Context().Value(StateKey).(*State); ok {
		return s
	}
	s := &State{}
	r.SetContext(WithState(r.Context(), s))
	return s
}

// WithState returns a context whose requests' State is s, for tests and internal calls.
func WithState(ctx context.Context, s *State) context.Context {
	return context.WithValue(ctx, StateKey, s)
}
