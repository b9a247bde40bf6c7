// Package canary splits a route's traffic between its own upstream (the primary) and one or
// more canary upstreams: by weight, forced by a header or cookie, and sticky per client (a
// cookie set on the response, or a hash of the client IP) so one client stays on one branch.
//
// It knows nothing of config files or upstream pools: the gateway hands it one handler per
// canary branch, and the primary is whatever the middleware wraps.
package canary

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync/atomic"
	"time"

	"aya/internal/httpx"
	"aya/internal/policy"
)

// Branch is one canary upstream.
type Branch struct {
	// Name is the upstream's name: what the override header or cookie and the sticky cookie
	// carry, and what X-Aya-Canary reports.
	Name string
	// Weight is the branch's share of requests, from 0 to 1.
	Weight float64
	// Handler sends a request to the upstream.
	Handler httpx.Handler
}

// Override forces a branch for requests that carry a header or a cookie.
type Override struct {
	// Name is the header or cookie name.
	Name string
	// Value, when set, is the value that forces To. Empty: the value itself names the branch
	// (the primary or a canary); a value naming no branch forces nothing.
	Value string
	// To is the branch Value forces; empty means the first canary.
	To string
}

// StickyBy says how a client keeps its branch.
type StickyBy int

const (
	// StickyNone picks per request.
	StickyNone StickyBy = iota
	// StickyCookie sets a cookie naming the branch on the first response and follows it.
	StickyCookie
	// StickyIP hashes the client IP onto the weights: no cookie, and the same client IP lands
	// on the same branch from any aya instance.
	StickyIP
)

// Options configure a split.
type Options struct {
	// Primary names the route's own upstream, which gets the weight the canaries leave.
	Primary  string
	Canaries []Branch
	Header   *Override
	Cookie   *Override
	Sticky   StickyBy
	// StickyCookie is the cookie's name (StickyCookie); StickyTTL its Max-Age; Secure adds
	// the Secure attribute.
	StickyCookie string
	StickyTTL    time.Duration
	Secure       bool
	// Expose adds X-Aya-Canary: <branch> to every response.
	Expose bool
}

// Reason says why a request went to its branch.
type Reason int

const (
	ByWeight Reason = iota
	ByHeader
	ByCookie
	BySticky
	numReasons
)

var reasonNames = [numReasons]string{"weight", "header", "cookie", "sticky"}

func (r Reason) String() string { return reasonNames[r] }

// Split is a built canary split. It is immutable once built except for its counters, and safe
// for concurrent use.
type Split struct {
	o Options
	// names[0] is the primary, names[i+1] canary i; handlers likewise (handlers[0] is set by
	// Middleware).
	names    []string
	handlers []httpx.Handler
	// bounds[i] is where canary i's share of the uint64 range ends: a point p goes to the
	// first canary with p < bounds[i], and to the primary past the last.
	bounds  []uint64
	header  int // the branch Header.Value forces, when Value is set
	cookie  int
	setCook []string // Set-Cookie value per branch
	counts  [][numReasons]atomic.Uint64
}

// New checks o and builds the split.
func New(o Options) (*Split, error) {
	if o.Primary == "" {
		return nil, errors.New("canary needs the route's own upstream as the primary")
	}
	if len(o.Canaries) == 0 {
		return nil, errors.New("canary needs at least one upstream to split to")
	}
	s := &Split{o: o, names: []string{o.Primary}, handlers: []httpx.Handler{nil}}
	cum := 0.0
	for _, c := range o.Canaries {
		switch {
		case c.Handler == nil:
			return nil, fmt.Errorf("canary upstream %q has no handler", c.Name)
		case c.Weight < 0 || c.Weight > 1 || math.IsNaN(c.Weight):
			return nil, fmt.Errorf("canary upstream %q: weight %v is not between 0%% and 100%%", c.Name, c.Weight)
		case s.index(c.Name) >= 0:
			return nil, fmt.Errorf("canary upstream %q is listed twice (or is the route's own upstream)", c.Name)
		}
		cum += c.Weight
		s.names = append(s.names, c.Name)
		s.handlers = append(s.handlers, c.Handler)
		s.bounds = append(s.bounds, bound(cum))
	}
	if cum > 1+1e-9 {
		return nil, fmt.Errorf("canary weights add up to %.4g%%; they must leave the primary the rest of 100%%", cum*100)
	}
	var err error
	if s.header, err = s.forced(o.Header); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if s.cookie, err = s.forced(o.Cookie); err != nil {
		return nil, fmt.Errorf("cookie: %w", err)
	}
	if o.Sticky == StickyCookie {
		if o.StickyCookie == "" {
			return nil, errors.New("a sticky cookie needs a name")
		}
		for _, n := range s.names {
			c := o.StickyCookie + "=" + n + "; Path=/; HttpOnly; SameSite=Lax"
			if o.StickyTTL > 0 {
				c += "; Max-Age=" + strconv.FormatInt(int64(o.StickyTTL/time.Second), 10)
			}
			if o.Secure {
				c += "; Secure"
			}
			s.setCook = append(s.setCook, c)
		}
	}
	s.counts = make([][numReasons]atomic.Uint64, len(s.names))
	return s, nil
}

// bound maps a cumulative share onto the uint64 range.
func bound(cum float64) uint64 {
	if cum >= 1 {
		return math.MaxUint64
	}
	return uint64(math.Ldexp(cum, 64))
}

// forced is the branch an override with a fixed value sends to, or -1.
func (s *Split) forced(o *Override) (int, error) {
	if o == nil || o.Value == "" {
		return -1, nil
	}
	if o.To == "" {
		return 1, nil
	}
	i := s.index(o.To)
	if i < 0 {
		return -1, fmt.Errorf("to: %q is neither the route's upstream nor one of the canary upstreams", o.To)
	}
	return i, nil
}

// index finds a branch by name; -1 when none has it.
func (s *Split) index(name string) int {
	for i, n := range s.names {
		if n == name {
			return i
		}
	}
	return -1
}

// Pick chooses r's branch: 0 for the primary, i+1 for canary i.
func (s *Split) Pick(r *httpx.Request) (int, Reason) {
	if o := s.o.Header; o != nil {
		if v, ok := r.Header.Lookup(o.Name); ok {
			if i := s.override(o, s.header, v); i >= 0 {
				return i, ByHeader
			}
		}
	}
	if o := s.o.Cookie; o != nil {
		if v := r.Cookie(o.Name); v != "" {
			if i := s.override(o, s.cookie, v); i >= 0 {
				return i, ByCookie
			}
		}
	}
	switch s.o.Sticky {
	case StickyCookie:
		if i := s.index(r.Cookie(s.o.StickyCookie)); i >= 0 {
			return i, BySticky
		}
	case StickyIP:
		if r.ClientIP.IsValid() {
			return s.at(hashAddr(r.ClientIP)), BySticky
		}
	}
	return s.at(rand.Uint64()), ByWeight
}

func (s *Split) override(o *Override, forced int, v string) int {
	if o.Value == "" {
		return s.index(v)
	}
	if v == o.Value {
		return forced
	}
	return -1
}

// at is the branch whose share holds point p.
func (s *Split) at(p uint64) int {
	for i, b := range s.bounds {
		if p < b {
			return i + 1
		}
	}
	return 0
}

// hashAddr spreads an address over the uint64 range (FNV-1a, then a finalizer so nearby
// addresses land far apart). It is fixed, not seeded: every aya instance and every reload
// sends one client to the same branch.
func hashAddr(a netip.Addr) uint64 {
	b := a.Unmap().As16()
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// Middleware routes each request to its branch; next serves the primary.
func (s *Split) Middleware() policy.Middleware {
	return func(next httpx.Handler) httpx.Handler {
		hs := append([]httpx.Handler{next}, s.handlers[1:]...)
		return httpx.HandlerFunc(func(w httpx.ResponseWriter, r *httpx.Request) {
			i, why := s.Pick(r)
			s.counts[i][why].Add(1)
			h := w.Header()
			if why == ByWeight && s.setCook != nil {
				h.Add("Set-Cookie", s.setCook[i])
			}
			if s.o.Expose {
				h.Add("X-Aya-Canary", s.names[i])
			}
			hs[i].ServeHTTPX(w, r)
		})
	}
}

// Branches names the branches: the primary first, then the canaries in order.
func (s *Split) Branches() []string { return s.names }

// Served counts the requests branch i (as Branches orders them) was picked for, for reason why.
func (s *Split) Served(i int, why Reason) uint64 { return s.counts[i][why].Load() }

// Reasons lists every Reason, for reading the counters.
func Reasons() []Reason { return []Reason{ByWeight, ByHeader, ByCookie, BySticky} }
