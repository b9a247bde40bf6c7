package gateway

import (
	"errors"

	"aya/internal/config"
	"aya/internal/policy"
)

func (b *policyBuild) compress(c *config.CompressPolicy) (policy.Middleware, error) {
	return nil, errors.New("compress is not built yet")
}

func (b *policyBuild) cors(c *config.CORSPolicy) (policy.Middleware, error) {
	return nil, errors.New("cors is not built yet")
}

func (b *policyBuild) ipFilter(c *config.IPFilterPolicy) (policy.Middleware, error) {
	return nil, errors.New("ip_filter is not built yet")
}

func (b *policyBuild) requestLimits(c *config.RequestLimitsPolicy) (policy.Middleware, error) {
	return nil, errors.New("request_limits is not built yet")
}
