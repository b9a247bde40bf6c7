package config

// CompressPolicy compresses responses by Accept-Encoding.
type CompressPolicy struct{}

// CORSPolicy answers CORS preflights and decorates responses.
type CORSPolicy struct{}

// IPFilterPolicy admits or refuses clients by IP.
type IPFilterPolicy struct{}

// RequestLimitsPolicy bounds a route's request sizes.
type RequestLimitsPolicy struct{}

func (v *validator) compressPolicy(cfg *Config, p *CompressPolicy, path, ctx string, line int) {}

func (v *validator) corsPolicy(cfg *Config, p *CORSPolicy, path, ctx string, line int) {}

func (v *validator) ipFilterPolicy(cfg *Config, p *IPFilterPolicy, path, ctx string, line int) {}

func (v *validator) requestLimitsPolicy(cfg *Config, p *RequestLimitsPolicy, path, ctx string, line int) {
}
