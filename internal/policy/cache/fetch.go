package cache

import (
	"strconv"
	"strings"
	"time"

	"aya/internal/httpx"
)

// forward sends r on to the next handler through a capture, revalidating stale (when it has
// a validator) with a conditional request, and stores what comes back when it may.
func (h *handler) forward(w httpx.ResponseWriter, r *httpx.Request, key string, stale *entry, cond conditionals) {
	c := h.c
	// The client's own validators would get a 304 the cache cannot store; the cache's ones
	// (from the stale entry) get a 304 it can use. The client's are answered from the entry.
	r.Header.Del("If-None-Match")
	r.Header.Del("If-Modified-Since")
	if stale != nil {
		if stale.etag != "" {
			r.Header.Add("If-None-Match", stale.etag)
		}
		if !stale.lastModified.IsZero() {
			r.Header.Add("If-Modified-Since", stale.lastModified.UTC().Format(httpTimeFormat))
		}
	}
	cw := capture{w: w, c: c, r: r, stale: stale, n0: len(*w.Header())}
	h.next.ServeHTTPX(&cw, r)
	now := c.now()
	switch {
	case cw.mode == revalidated:
		e := c.refreshed(stale, cw.updated, now)
		c.put(key, r, e)
		c.serve(w, r, e, "HIT", now, cond)
	case cw.mode == failedOver:
		c.store.stale.Add(1)
		c.serve(w, r, stale, "STALE", now, cond)
	case cw.complete():
		cw.e.body = cw.buf
		c.finishEntry(cw.e, r)
		c.put(key, r, cw.e)
	case stale != nil && cw.wrote && cw.status < 500:
		// The upstream answered with something the cache may not keep: the old entry is no
		// longer what the upstream says.
		c.store.invalidate(key)
	}
}

// httpTimeFormat is the IMF-fixdate layout of HTTP dates.
const httpTimeFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// candidate decides, when the upstream's answer head arrives, whether it may be stored, and
// if so starts its entry. want is the declared body length (-1 unknown).
func (c *Cache) candidate(r *httpx.Request, status int, h httpx.Header, now time.Time) (*entry, int64) {
	if !cacheableStatus(status) {
		return nil, -1
	}
	d := parseDirectives(h)
	if d.noStore || d.private {
		return nil, -1
	}
	if !c.o.AllowSetCookie && h.Has("Set-Cookie") {
		return nil, -1
	}
	if r.Header.Has("Authorization") && !d.public && d.sMaxAge < 0 && !d.mustRevalidate {
		return nil, -1 // RFC 9111 §3.5: a shared cache keeps answers to credentials only when told
	}
	if h.Has("Content-Range") || strings.HasPrefix(h.Get("Content-Type"), "text/event-stream") {
		return nil, -1
	}
	var vary []string
	for i := range h {
		if !httpx.EqualFold(h[i].Name, "Vary") {
			continue
		}
		s := h[i].Value
		for s != "" {
			var name string
			name, s = nextListItem(s)
			if name == "*" {
				return nil, -1
			}
			if name != "" {
				name = strings.ToLower(name)
				if !containsString(vary, name) {
					vary = append(vary, name)
				}
			}
		}
	}
	if len(vary) > 0 && c.o.IgnoreVary {
		return nil, -1
	}
	want := int64(-1)
	if v, ok := h.Lookup("Content-Length"); ok {
		n, err := strconv.ParseInt(trimOWS(v), 10, 64)
		if err != nil || n < 0 {
			return nil, -1
		}
		if n > c.o.MaxEntrySize {
			return nil, -1
		}
		want = n
	}
	if status == 204 || status == 304 {
		want = 0
	}
	e := &entry{status: status}
	e.header = make(httpx.Header, 0, len(h))
	for _, f := range h {
		if !skipStored(f.Name, c.o.TagsHeader) {
			e.header = append(e.header, httpx.Field{Name: strings.Clone(f.Name), Value: strings.Clone(f.Value)})
		}
	}
	if r.Method == "HEAD" {
		if want >= 0 {
			e.length = strconv.FormatInt(want, 10)
		}
		want = 0
	}
	var tags []string
	if c.o.TagsHeader != "" {
		for _, v := range h {
			if httpx.EqualFold(v.Name, c.o.TagsHeader) {
				for _, t := range strings.Fields(v.Value) {
					tags = append(tags, strings.Clone(t))
				}
			}
		}
	}
	c.describe(e, h, tags, d, now)
	if e.fresh <= 0 && !e.hasValidator() && e.sie <= 0 {
		return nil, -1 // stale at once and nothing to revalidate with: keeping it gains nothing
	}
	e.varyNames = vary
	return e, want
}

func containsString(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// finishEntry completes an entry once its body is in: the Content-Length to send, the base a
// purge names, and its weight.
func (c *Cache) finishEntry(e *entry, r *httpx.Request) {
	if r.Method != "HEAD" {
		e.length = strconv.Itoa(len(e.body))
	}
	key, bs, be := c.appendKey(nil, r, r.Method)
	e.base = string(key[bs:be])
	e.host, e.path = strings.ToLower(r.Host), strings.Clone(r.Path)
	e.weigh()
}

// refreshed is stale updated by a 304's fields (RFC 9111 §4.3.4): same body, the 304's
// fields replacing the stored ones of the same name, freshness counted from now.
func (c *Cache) refreshed(stale *entry, updated []httpx.Field, now time.Time) *entry {
	e := *stale
	e.header = make(httpx.Header, 0, len(stale.header)+len(updated))
	for _, f := range stale.header {
		if !hasField(updated, f.Name) {
			e.header = append(e.header, f)
		}
	}
	raw := make(httpx.Header, 0, len(e.header)+len(updated))
	raw = append(raw, e.header...)
	for _, f := range updated {
		if !skipStored(f.Name, c.o.TagsHeader) {
			e.header = append(e.header, f)
		}
		raw = append(raw, f)
	}
	c.describe(&e, raw, nil, parseDirectives(raw), now)
	e.weigh()
	return &e
}

func hasField(fs []httpx.Field, name string) bool {
	for _, f := range fs {
		if httpx.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// put stores e under key, or, when e varies, under its variant key with a marker at key.
func (c *Cache) put(key string, r *httpx.Request, e *entry) {
	if len(e.varyNames) == 0 {
		c.store.set(key, e)
		return
	}
	m, ok := c.store.get(key)
	if !ok || m.vary == nil || !equalStrings(m.vary, e.varyNames) {
		m = &entry{vary: e.varyNames, since: e.stored, base: e.base, host: e.host, path: e.path}
	} else {
		cp := *m
		m = &cp
	}
	// The marker lives as long as the variant stored last.
	m.fresh, m.swr, m.sie, m.etag = e.fresh, e.swr, e.sie, e.etag
	m.stored, m.initialAge = e.stored, e.initialAge
	m.weigh()
	c.store.set(key, m)
	vkey := appendVary([]byte(key), r.Header, e.varyNames)
	c.store.set(string(vkey), e)
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
