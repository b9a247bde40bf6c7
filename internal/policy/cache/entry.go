package cache

import (
	"net/http"
	"strings"
	"time"

	"aya/internal/httpx"
)

// entry is one stored response, or (vary set) the marker that says a URL's responses vary
// by request headers and where its variants are. Entries are immutable once stored: a
// revalidation stores a new one, so readers never lock.
type entry struct {
	base string // "GET host/path?query": what a purge by key names
	path string
	host string

	status int
	header httpx.Header // end-to-end fields to replay (no Content-Length, Age, X-Cache, ...)
	body   []byte
	length string // Content-Length to send

	stored     time.Time     // when the response arrived (or was last revalidated)
	initialAge time.Duration // the Age the upstream reported
	fresh      time.Duration // freshness lifetime
	swr, sie   time.Duration // stale-while-revalidate and stale-if-error windows
	// noStale forbids serving the entry stale (must-revalidate, proxy-revalidate).
	noStale      bool
	etag         string
	lastModified time.Time
	tags         []string

	// varyNames, on a variant, lists the request header names its response varies by.
	varyNames []string
	// vary, on a marker, lists the (lowercase) request header names the variants differ by;
	// since is when the marker was made: older variants are leftovers of an invalidation.
	vary  []string
	since time.Time

	weight uint32
}

// entryOverhead approximates what an entry costs beyond its bytes (struct, map slot, key).
const entryOverhead = 256

func (e *entry) age(now time.Time) time.Duration {
	return e.initialAge + max(now.Sub(e.stored), 0)
}

func (e *entry) isFresh(now time.Time) bool { return e.age(now) < e.fresh }

// servableStale reports whether the entry may be served stale while it is revalidated in the
// background.
func (e *entry) servableStale(now time.Time) bool {
	return !e.noStale && e.swr > 0 && e.age(now) < e.fresh+e.swr
}

// servableOnError reports whether the entry may stand in for an upstream error.
func (e *entry) servableOnError(now time.Time) bool {
	return !e.noStale && e.sie > 0 && e.age(now) < e.fresh+e.sie
}

func (e *entry) hasValidator() bool { return e.etag != "" || !e.lastModified.IsZero() }

// keepFor is how long the store holds the entry: while fresh, then while it may still be
// served stale, and, when it has a validator, as long again as it was fresh (at least a
// minute) so that an expired entry is revalidated with a cheap 304 instead of refetched.
func (e *entry) keepFor() time.Duration {
	keep := e.fresh + max(e.swr, e.sie)
	if e.hasValidator() {
		keep = max(keep, e.fresh+max(e.fresh, time.Minute))
	}
	return max(keep-e.initialAge, time.Second)
}

// skipStored names response fields the cache does not replay: framing it recomputes, its
// own headers, and per-request ones.
func skipStored(name, tagsHeader string) bool {
	switch {
	case httpx.EqualFold(name, "Content-Length"), httpx.EqualFold(name, "Transfer-Encoding"),
		httpx.EqualFold(name, "Age"), httpx.EqualFold(name, "X-Cache"),
		httpx.EqualFold(name, "X-Request-ID"), httpx.EqualFold(name, "Connection"),
		httpx.EqualFold(name, "Keep-Alive"), httpx.EqualFold(name, "Trailer"):
		return true
	case tagsHeader != "" && httpx.EqualFold(name, tagsHeader):
		return true
	}
	return false
}

// describe fills e's freshness and validators from its stored header h (and tags from the
// tags header, which is not stored) at time now.
func (c *Cache) describe(e *entry, h httpx.Header, tagsValues []string, d directives, now time.Time) {
	e.stored = now
	e.initialAge = 0
	if v, ok := h.Lookup("Age"); ok {
		if n := deltaSeconds(trimOWS(v)); n > 0 {
			e.initialAge = time.Duration(n) * time.Second
		}
	}
	e.fresh = lifetime(d, h, now, c.o.TTL)
	if d.noCache {
		e.fresh = 0
	}
	e.swr, e.sie = c.o.StaleWhileRevalidate, c.o.StaleIfError
	if d.staleRevalidate >= 0 {
		e.swr = time.Duration(d.staleRevalidate) * time.Second
	}
	if d.staleIfError >= 0 {
		e.sie = time.Duration(d.staleIfError) * time.Second
	}
	e.noStale = d.mustRevalidate
	e.etag = strings.Clone(h.Get("ETag"))
	e.lastModified = time.Time{}
	if lm := h.Get("Last-Modified"); lm != "" {
		if t, err := http.ParseTime(lm); err == nil {
			e.lastModified = t
		}
	}
	if tagsValues != nil {
		e.tags = tagsValues
	}
}

// weigh sets what the entry costs the store, in bytes.
func (e *entry) weigh() {
	w := entryOverhead + len(e.body) + len(e.base) + len(e.path) + len(e.host)
	for _, f := range e.header {
		w += len(f.Name) + len(f.Value) + 32
	}
	for _, t := range e.tags {
		w += len(t) + 16
	}
	for _, v := range e.vary {
		w += len(v) + 16
	}
	e.weight = uint32(min(w, 1<<32-1))
}

// lifetime is the response's freshness lifetime (RFC 9111 §4.2.1): s-maxage, then max-age,
// then Expires minus Date, else the route's default TTL.
func lifetime(d directives, h httpx.Header, now time.Time, ttl time.Duration) time.Duration {
	switch {
	case d.sMaxAge >= 0:
		return time.Duration(d.sMaxAge) * time.Second
	case d.maxAge >= 0:
		return time.Duration(d.maxAge) * time.Second
	}
	if exp, ok := h.Lookup("Expires"); ok {
		t, err := http.ParseTime(exp)
		if err != nil {
			return 0 // an invalid Expires (like "0") means already expired
		}
		date := now
		if ds := h.Get("Date"); ds != "" {
			if dt, err := http.ParseTime(ds); err == nil {
				date = dt
			}
		}
		return max(t.Sub(date), 0)
	}
	return ttl
}

// cacheableStatus lists the statuses RFC 9110 §15.1 calls heuristically cacheable; other
// statuses (206 partial content above all) are never stored.
func cacheableStatus(s int) bool {
	switch s {
	case 200, 203, 204, 300, 301, 308, 404, 405, 410, 414, 501:
		return true
	}
	return false
}

// notModified reports whether the client's conditional request is satisfied by e, so a 304
// answers it (RFC 9110 §13.2.2: If-None-Match wins over If-Modified-Since).
func (e *entry) notModified(inm, ims string) bool {
	if e.status != 200 {
		return false
	}
	if inm != "" {
		return e.etag != "" && etagListMatches(inm, e.etag)
	}
	if ims != "" && !e.lastModified.IsZero() {
		t, err := http.ParseTime(ims)
		return err == nil && !e.lastModified.After(t)
	}
	return false
}

// etagListMatches applies the weak comparison of If-None-Match: W/"x" matches "x".
func etagListMatches(list, etag string) bool {
	etag = strings.TrimPrefix(etag, "W/")
	for list != "" {
		var item string
		item, list = nextListItem(list)
		if item == "*" || strings.TrimPrefix(item, "W/") == etag {
			return true
		}
	}
	return false
}

// notModifiedField lists what a 304 carries (RFC 9110 §15.4.5).
func notModifiedField(name string) bool {
	return httpx.EqualFold(name, "Cache-Control") || httpx.EqualFold(name, "Content-Location") ||
		httpx.EqualFold(name, "Date") || httpx.EqualFold(name, "ETag") ||
		httpx.EqualFold(name, "Expires") || httpx.EqualFold(name, "Vary")
}
