package gateway

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"

	"aya/internal/config"
	"aya/internal/policy"
	"aya/internal/policy/cache"
)

// cacheState is the response cache every cache policy shares; it survives reloads. The store
// is made when the first cache policy is built (a config without one costs nothing) and
// resized when a reload changes cache.max_size.
type cacheState struct {
	log   *slog.Logger
	mu    sync.Mutex
	store *cache.Store
}

func (c *cacheState) init(log *slog.Logger) { c.log = log }

func (c *cacheState) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.store != nil {
		c.store.Close()
		c.store = nil
	}
}

// storeOf returns the shared store, sized to size bytes.
func (c *cacheState) storeOf(size int64) (*cache.Store, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.store != nil {
		c.store.Resize(size)
		return c.store, nil
	}
	s, err := cache.NewStore(size)
	if err != nil {
		return nil, err
	}
	c.store = s
	return s, nil
}

// current is the store, or nil when no cache policy was ever built.
func (c *cacheState) current() *cache.Store {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.store
}

func (b *policyBuild) cache(c *config.CachePolicy) (policy.Middleware, error) {
	store, err := b.state.cache.storeOf(b.cfg.CacheSize())
	if err != nil {
		return nil, fmt.Errorf("cache.max_size: %w", err)
	}
	o := cache.Options{
		Route:                b.route.Name,
		TTL:                  c.TTL.D(),
		Methods:              c.Methods,
		KeyHeaders:           c.Key.Headers,
		KeyCookies:           c.Key.Cookies,
		KeyConsumer:          c.Key.Consumer,
		IgnoreVary:           !c.Vary,
		MaxEntrySize:         int64(c.MaxEntrySize),
		StaleWhileRevalidate: c.StaleWhileRevalidate.D(),
		StaleIfError:         c.StaleIfError.D(),
		TagsHeader:           c.TagsHeader,
		AllowSetCookie:       c.AllowSetCookie,
		Log:                  b.log.With("route", b.route.Name),
	}
	switch q := c.Key.Query; {
	case q.All():
		o.Query = cache.QueryAll
	case q.None():
		o.Query = cache.QueryNone
	default:
		o.Query, o.QueryParams = cache.QueryList, q
	}
	ca := cache.New(store, o)
	b.onClose(ca.Close)
	return ca.Middleware(), nil
}

// mountCacheAdmin adds the cache's admin endpoints: GET /cache (size and counters) and
// POST /cache/purge.
func (g *Gateway) mountCacheAdmin(mux *http.ServeMux, cfg config.Admin) {
	mux.Handle("GET /cache", auth(cfg.Token, http.HandlerFunc(g.handleCacheStats)))
	mux.Handle("POST /cache/purge", auth(cfg.Token, http.HandlerFunc(g.handleCachePurge)))
}

func (g *Gateway) handleCacheStats(w http.ResponseWriter, _ *http.Request) {
	var st cache.Stats
	if s := g.pol.cache.current(); s != nil {
		st = s.Stats()
	}
	writeJSON(w, 200, st)
}

// handleCachePurge removes what the body names: {"key": "GET host/path?query"},
// {"prefix": "/api/"}, {"tag": "product-42"} or {"all": true}; it answers {"purged": N}.
func (g *Gateway) handleCachePurge(w http.ResponseWriter, r *http.Request) {
	var sel cache.Selector
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sel); err != nil {
		adminError(w, 400, "cache purge: the body must be JSON like {\"prefix\": \"/api/\"}: "+err.Error())
		return
	}
	if err := sel.Validate(); err != nil {
		adminError(w, 400, "cache purge: "+err.Error())
		return
	}
	n := 0
	if s := g.pol.cache.current(); s != nil {
		n = s.Purge(sel)
	}
	g.sharePurge(r.Context(), sel)
	auditNote(r, "purged", n)
	writeJSON(w, 200, map[string]int{"purged": n})
}
