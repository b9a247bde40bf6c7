package upstream

import (
	"hash/fnv"
	"strconv"

	"aya/internal/config"
	"aya/internal/httpx"
)

// sticky is cookie-based session affinity: aya sets a cookie naming the target (by an opaque
// id, not its address) and sends later requests carrying it to the same target while that
// target takes requests. When it does not (down, ejected, draining), the request moves and the
// cookie is issued again for the new target.
type sticky struct {
	cookie string
	byID   map[string]*Target
	// setCookie holds each target's whole Set-Cookie value, built once so that issuing the
	// cookie allocates nothing.
	setCookie map[*Target]string
	ids       map[*Target]string
}

func newSticky(c *config.StickyCookie, targets []*Target) *sticky {
	s := &sticky{cookie: c.Name, byID: map[string]*Target{}, setCookie: map[*Target]string{}, ids: map[*Target]string{}}
	for _, t := range targets {
		h := fnv.New64a()
		h.Write([]byte(t.Name))
		id := strconv.FormatUint(h.Sum64(), 36)
		s.byID[id], s.ids[t] = t, id
		v := c.Name + "=" + id + "; Path=" + c.Path
		if c.TTL > 0 {
			v += "; Max-Age=" + strconv.FormatInt(int64(c.TTL.D().Seconds()), 10)
		}
		if c.HTTPOnly {
			v += "; HttpOnly"
		}
		if c.Secure {
			v += "; Secure"
		}
		if c.SameSite != "" {
			v += "; SameSite=" + c.SameSite
		}
		s.setCookie[t] = v
	}
	return s
}

// PickSticky chooses a target for r like Pick, but keeps a client on the target its sticky
// cookie names while that target takes requests. Without sticky sessions it is Pick.
func (p *Pool) PickSticky(r *httpx.Request) *Target {
	if s := p.members.Load().sticky; s != nil {
		if t := s.byID[r.Cookie(s.cookie)]; t != nil && p.inView(t) && (!t.State.gated() || t.State.admit(nanotime())) {
			return t
		}
	}
	return p.Pick(r)
}

// StickyCookie returns the Set-Cookie value to send with an answer from t to r, or "" when
// r already carries the right cookie (or sticky sessions are off).
func (p *Pool) StickyCookie(r *httpx.Request, t *Target) string {
	s := p.members.Load().sticky
	if s == nil || s.ids[t] == "" || r.Cookie(s.cookie) == s.ids[t] {
		return ""
	}
	return s.setCookie[t]
}

// inView reports whether t takes load now.
func (p *Pool) inView(t *Target) bool {
	for _, c := range p.view.Load().choices {
		for _, bt := range c.targets {
			if bt == t.Balance {
				return t.State.usable()
			}
		}
	}
	return false
}
