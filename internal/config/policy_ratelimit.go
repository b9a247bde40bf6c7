package config

// RateLimitPolicy limits how fast a key (consumer, client IP, header, route) may send requests.
type RateLimitPolicy struct{}

func (v *validator) rateLimitPolicy(cfg *Config, p *RateLimitPolicy, path, ctx string, line int) {}
