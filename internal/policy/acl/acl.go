// Package acl is the acl route policy: it admits the consumer an auth policy before it
// identified, by group or by name, and refuses everyone else — 401 (with the auth policy's
// challenge) when nobody authenticated, 403 when the caller is known but not allowed.
//
// It reads only policy.State; it knows nothing of credentials, config or the gateway.
package acl

import (
	"slices"

	"aya/internal/httpx"
	"aya/internal/policy"
	"aya/internal/proxy"
)

// Options list who may pass. Deny wins over allow; with no allow list every authenticated
// consumer not denied passes.
type Options struct {
	AllowGroups    []string
	DenyGroups     []string
	AllowConsumers []string
	// Challenge is the WWW-Authenticate values of the auth policy before this one, sent with
	// the 401 for an anonymous caller.
	Challenge []string
}

// New builds the middleware.
func New(o Options) policy.Middleware {
	return func(next httpx.Handler) httpx.Handler {
		return &acl{o: o, next: next}
	}
}

type acl struct {
	o    Options
	next httpx.Handler
}

func (a *acl) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	c := policy.From(r).Consumer
	if c == nil {
		proxy.WriteError(&challengeWriter{w, a.o.Challenge}, r, 401, "authentication required")
		return
	}
	if !a.allowed(c) {
		proxy.WriteError(w, r, 403, "consumer "+c.Name+" is not allowed on this route")
		return
	}
	a.next.ServeHTTPX(w, r)
}

// allowed decides for a known consumer.
func (a *acl) allowed(c *policy.Consumer) bool {
	for _, g := range a.o.DenyGroups {
		if c.InGroup(g) {
			return false
		}
	}
	if len(a.o.AllowGroups) == 0 && len(a.o.AllowConsumers) == 0 {
		return true
	}
	if slices.Contains(a.o.AllowConsumers, c.Name) {
		return true
	}
	for _, g := range a.o.AllowGroups {
		if c.InGroup(g) {
			return true
		}
	}
	return false
}

// challengeWriter adds WWW-Authenticate as the status is written (WriteError resets the
// header first).
type challengeWriter struct {
	httpx.ResponseWriter
	values []string
}

func (c *challengeWriter) WriteHeader(status int) {
	h := c.ResponseWriter.Header()
	for _, v := range c.values {
		h.Add("WWW-Authenticate", v)
	}
	c.ResponseWriter.WriteHeader(status)
}
