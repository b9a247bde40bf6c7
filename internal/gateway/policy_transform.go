package gateway

import (
	"errors"

	"aya/internal/config"
	"aya/internal/policy"
)

func (b *policyBuild) transform(c *config.TransformPolicy) (policy.Middleware, error) {
	return nil, errors.New("transform is not built yet")
}

func (b *policyBuild) rewrite(c *config.RewritePolicy) (policy.Middleware, error) {
	return nil, errors.New("rewrite is not built yet")
}

func (b *policyBuild) redirect(c *config.RedirectPolicy) (policy.Middleware, error) {
	return nil, errors.New("redirect is not built yet")
}

func (b *policyBuild) static(c *config.StaticPolicy) (policy.Middleware, error) {
	return nil, errors.New("static is not built yet")
}

func (b *policyBuild) aggregate(c *config.AggregatePolicy) (policy.Middleware, error) {
	return nil, errors.New("aggregate is not built yet")
}
