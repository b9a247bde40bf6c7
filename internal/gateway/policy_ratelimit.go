package gateway

import (
	"errors"
	"log/slog"

	"aya/internal/config"
	"aya/internal/policy"
)

// limitState keeps rate-limit counters across reloads.
type limitState struct{}

func (l *limitState) init(log *slog.Logger) {}
func (l *limitState) close()                {}

func (b *policyBuild) rateLimit(c *config.RateLimitPolicy) (policy.Middleware, error) {
	return nil, errors.New("rate_limit is not built yet")
}
