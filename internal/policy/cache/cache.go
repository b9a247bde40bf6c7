package cache

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"aya/internal/httpx"
	"aya/internal/policy"
	"aya/internal/proxy"
)

// Options configure one route's cache. The zero value of each field is its documented
// default only where said; the gateway fills every field from the config.
type Options struct {
	// Route names the route: keys include it, so two routes never share entries.
	Route string
	// TTL is the freshness lifetime of a response that states none.
	TTL time.Duration
	// Methods are the cacheable methods (GET, HEAD); nil means both.
	Methods []string
	// KeyHeaders, KeyCookies and KeyConsumer add request header values, cookie values and the
	// authenticated consumer's name to the key.
	KeyHeaders  []string
	KeyCookies  []string
	KeyConsumer bool
	// Query says how the query string enters the key; QueryParams lists the parameters for
	// QueryList.
	Query       QueryMode
	QueryParams []string
	// IgnoreVary refuses to store responses that carry Vary instead of keeping a variant per
	// combination of the named request headers.
	IgnoreVary bool
	// MaxEntrySize bounds one stored response's body; bigger ones stream through unstored.
	MaxEntrySize int64
	// StaleWhileRevalidate and StaleIfError are the windows when the response names none.
	StaleWhileRevalidate time.Duration
	StaleIfError         time.Duration
	// TagsHeader is the response field whose space-separated values tag the entry for purges
	// ("" turns tags off). It is removed from what the client sees.
	TagsHeader string
	// AllowSetCookie stores responses that set cookies (the cookie then goes to every client).
	AllowSetCookie bool
	// RefreshTimeout bounds a background revalidation; 0 means a minute.
	RefreshTimeout time.Duration
	Log            *slog.Logger

	// clock replaces time.Now in tests.
	clock func() time.Time
}

// Cache is one route's cache over the shared store.
type Cache struct {
	store   *Store
	o       Options
	flights flights

	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex // guards closed against refreshes starting during Close
	closed bool
	wg     sync.WaitGroup
}

// New returns the cache of one route. Close it when the route retires.
func New(store *Store, o Options) *Cache {
	if o.Methods == nil {
		o.Methods = []string{"GET", "HEAD"}
	}
	if o.RefreshTimeout <= 0 {
		o.RefreshTimeout = time.Minute
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Cache{store: store, o: o, ctx: ctx, cancel: cancel}
}

// Middleware returns the policy that puts the cache in front of the rest of the chain.
func (c *Cache) Middleware() policy.Middleware {
	return func(next httpx.Handler) httpx.Handler { return &handler{c: c, next: next} }
}

// Close stops background revalidations and waits for them.
func (c *Cache) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}

type handler struct {
	c    *Cache
	next httpx.Handler
}

// scratch is per-request memory for keys, pooled so that a hit allocates nothing.
type scratch struct {
	key  []byte
	vkey []byte
}

var scratches = sync.Pool{New: func() any { return &scratch{key: make([]byte, 0, 256), vkey: make([]byte, 0, 256)} }}

// conditionals are the client's validators, read before the cache replaces them with its own.
type conditionals struct{ inm, ims string }

func (h *handler) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	c := h.c
	if !c.method(r.Method) {
		c.store.bypass.Add(1)
		w.Header().Set("X-Cache", "BYPASS")
		if !unsafeMethod(r.Method) {
			h.next.ServeHTTPX(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		h.next.ServeHTTPX(sw, r)
		c.invalidateAfterUnsafe(r, sw.status)
		return
	}
	d := parseDirectives(r.Header)
	if d.noStore || r.ContentLength != 0 || r.Header.Has("Upgrade") || r.Header.Has("Range") {
		c.store.bypass.Add(1)
		w.Header().Set("X-Cache", "BYPASS")
		h.next.ServeHTTPX(w, r)
		return
	}
	sc := scratches.Get().(*scratch)
	defer scratches.Put(sc)
	cond := conditionals{inm: r.Header.Get("If-None-Match"), ims: r.Header.Get("If-Modified-Since")}
	now := c.now()
	// no-cache, max-age=0 and Pragma: no-cache make the client's request go upstream (a
	// revalidation when the entry has a validator); max-age=N refuses entries older than N.
	usable := func(e *entry) bool {
		return e != nil && !d.noCache && (d.maxAge < 0 || e.age(now) <= time.Duration(d.maxAge)*time.Second && d.maxAge > 0)
	}
	if r.Method == "HEAD" && c.method("GET") {
		// A stored GET answers a HEAD: same header, no body.
		if g := c.lookup(sc, r, "GET", now); usable(g) && h.answer(w, r, sc, g, "GET", now, cond) {
			return
		}
	}
	e := c.lookup(sc, r, r.Method, now)
	if usable(e) && h.answer(w, r, sc, e, r.Method, now, cond) {
		return
	}
	if d.onlyIfCached {
		proxy.WriteError(w, r, 504, "the request says only-if-cached and the cache holds no fresh response for it")
		return
	}
	key := string(sc.key)
	f, leader := c.flights.join(key)
	if !leader {
		select {
		case <-f.done:
		case <-r.Context().Done():
			return
		}
		now = c.now()
		if e2 := c.lookup(sc, r, r.Method, now); e2 != nil {
			if e2.isFresh(now) {
				c.store.hits.Add(1)
				c.serve(w, r, e2, "HIT", now, cond)
				return
			}
			e = e2
		}
		// The leader's answer was not stored (not cacheable, another variant, too big): go
		// upstream alone rather than queue behind another leader.
	} else {
		defer c.flights.leave(key, f)
	}
	c.store.misses.Add(1)
	h.forward(w, r, key, e, cond)
}

// answer serves e if it is fresh, or stale within stale-while-revalidate (starting one
// background revalidation of sc.key, fetched with method); false: e cannot answer.
func (h *handler) answer(w httpx.ResponseWriter, r *httpx.Request, sc *scratch, e *entry, method string, now time.Time, cond conditionals) bool {
	c := h.c
	switch {
	case e.isFresh(now):
		c.store.hits.Add(1)
		c.serve(w, r, e, "HIT", now, cond)
		return true
	case e.servableStale(now):
		c.store.stale.Add(1)
		h.refreshLater(sc.key, e, r, method)
		c.serve(w, r, e, "STALE", now, cond)
		return true
	}
	return false
}

func (c *Cache) now() time.Time {
	if c.o.clock != nil {
		return c.o.clock()
	}
	return time.Now()
}

func (c *Cache) method(m string) bool {
	for _, x := range c.o.Methods {
		if x == m {
			return true
		}
	}
	return false
}

// lookup finds r's entry for method, following a Vary marker to the variant. sc.key holds
// the primary key afterwards.
func (c *Cache) lookup(sc *scratch, r *httpx.Request, method string, now time.Time) *entry {
	sc.key, _, _ = c.appendKey(sc.key[:0], r, method)
	e, ok := c.store.get(unsafe.String(unsafe.SliceData(sc.key), len(sc.key)))
	if !ok {
		return nil
	}
	if e.vary == nil {
		return e
	}
	sc.vkey = appendVary(append(sc.vkey[:0], sc.key...), r.Header, e.vary)
	v, ok := c.store.get(unsafe.String(unsafe.SliceData(sc.vkey), len(sc.vkey)))
	if !ok || v.stored.Before(e.since) {
		return nil
	}
	return v
}

// serve answers from e: a 304 when the client's validators match, else the stored response.
func (c *Cache) serve(w httpx.ResponseWriter, r *httpx.Request, e *entry, label string, now time.Time, cond conditionals) {
	h := w.Header()
	age := strconv.Itoa(int(e.age(now) / time.Second))
	if e.notModified(cond.inm, cond.ims) {
		for _, f := range e.header {
			if notModifiedField(f.Name) {
				*h = append(*h, f)
			}
		}
		c.ownFields(h, r, age, label)
		w.WriteHeader(304)
		return
	}
	*h = append(*h, e.header...)
	if e.length != "" && e.status != 204 && e.status != 304 {
		*h = append(*h, httpx.Field{Name: "Content-Length", Value: e.length})
	}
	c.ownFields(h, r, age, label)
	w.WriteHeader(e.status)
	if r.Method != "HEAD" && len(e.body) > 0 {
		w.Write(e.body)
	}
}

func (c *Cache) ownFields(h *httpx.Header, r *httpx.Request, age, label string) {
	*h = append(*h, httpx.Field{Name: "Age", Value: age}, httpx.Field{Name: "X-Cache", Value: label})
	if r.ID != "" {
		h.Set("X-Request-ID", r.ID)
	}
}
