package config

// TransformPolicy edits headers, query parameters and JSON bodies of requests and responses.
type TransformPolicy struct{}

// RewritePolicy rewrites the request path before it goes upstream.
type RewritePolicy struct{}

// RedirectPolicy answers with a redirect.
type RedirectPolicy struct{}

// terminal reports whether the redirect answers every request (not only plain-HTTP ones).
func (r *RedirectPolicy) terminal() bool { return true }

// StaticPolicy answers with a fixed response.
type StaticPolicy struct{}

// AggregatePolicy fans one request out to several upstream calls and merges their JSON.
type AggregatePolicy struct{}

func (v *validator) transformPolicy(cfg *Config, p *TransformPolicy, path, ctx string, line int) {}

func (v *validator) rewritePolicy(cfg *Config, p *RewritePolicy, path, ctx string, line int) {}

func (v *validator) redirectPolicy(cfg *Config, p *RedirectPolicy, path, ctx string, line int) {}

func (v *validator) staticPolicy(cfg *Config, p *StaticPolicy, path, ctx string, line int) {}

func (v *validator) aggregatePolicy(cfg *Config, p *AggregatePolicy, path, ctx string, line int) {}
