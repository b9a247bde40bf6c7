package gateway

import (
	"errors"
	"log/slog"
	"net/http"

	"aya/internal/config"
	"aya/internal/policy"
)

// cacheState is the response cache every cache policy shares; it survives reloads.
type cacheState struct{}

func (c *cacheState) init(log *slog.Logger) {}
func (c *cacheState) close()                {}

func (b *policyBuild) cache(c *config.CachePolicy) (policy.Middleware, error) {
	return nil, errors.New("cache is not built yet")
}

// mountCacheAdmin adds the cache purge endpoints to the admin API.
func (g *Gateway) mountCacheAdmin(mux *http.ServeMux, cfg config.Admin) {}
