package gateway

import (
	"errors"

	"aya/internal/config"
	"aya/internal/policy"
)

func (b *policyBuild) canary(c *config.CanaryPolicy) (policy.Middleware, error) {
	return nil, errors.New("canary is not built yet")
}

func (b *policyBuild) mirror(c *config.MirrorPolicy) (policy.Middleware, error) {
	return nil, errors.New("mirror is not built yet")
}
