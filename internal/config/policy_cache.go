package config

// CachePolicy caches a route's responses in the shared cache store.
type CachePolicy struct{}

// CacheStore sizes the response cache every cache policy shares.
type CacheStore struct{}

func (v *validator) cachePolicy(cfg *Config, p *CachePolicy, path, ctx string, line int) {}

// cacheStore validates the top-level cache: block.
func (v *validator) cacheStore(cfg *Config) {}
