package gateway

import (
	"aya/internal/config"
	"aya/internal/policy"
	"aya/internal/policy/compress"
	"aya/internal/policy/cors"
	"aya/internal/policy/ipfilter"
	"aya/internal/policy/limits"
)

func (b *policyBuild) compress(c *config.CompressPolicy) (policy.Middleware, error) {
	level, err := compress.ParseLevel(c.Level)
	if err != nil {
		return nil, err
	}
	cp, err := compress.New(compress.Options{
		Algorithms: c.Algorithms,
		MinSize:    int(c.MinSize),
		Types:      c.Types,
		Level:      level,
	})
	if err != nil {
		return nil, err
	}
	return cp.Middleware(), nil
}

func (b *policyBuild) cors(c *config.CORSPolicy) (policy.Middleware, error) {
	cp, err := cors.New(cors.Options{
		AllowOrigins:     c.AllowOrigins,
		AllowMethods:     c.AllowMethods,
		AllowHeaders:     c.AllowHeaders,
		ExposeHeaders:    c.ExposeHeaders,
		AllowCredentials: c.AllowCredentials,
		MaxAge:           c.MaxAge.D(),
	})
	if err != nil {
		return nil, err
	}
	return cp.Middleware(), nil
}

// ipFilter judges r.ClientIP, which the dispatcher resolved through the listener's
// trusted_proxies before routing.
func (b *policyBuild) ipFilter(c *config.IPFilterPolicy) (policy.Middleware, error) {
	return ipfilter.New(ipfilter.Options{Allow: c.Allow, Deny: c.Deny}).Middleware(), nil
}

func (b *policyBuild) requestLimits(c *config.RequestLimitsPolicy) (policy.Middleware, error) {
	return limits.New(limits.Options{
		MaxBody:        int64(c.MaxBody),
		MaxHeaderCount: c.MaxHeaderCount,
		MaxHeaderBytes: int(c.MaxHeaderBytes),
		MaxQueryLength: int(c.MaxQueryLength),
		Timeout:        c.Timeout.D(),
	}).Middleware(), nil
}
