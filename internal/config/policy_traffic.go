package config

// CanaryPolicy splits a route's traffic between its upstream and others.
type CanaryPolicy struct{}

// MirrorPolicy copies a share of requests to a shadow upstream.
type MirrorPolicy struct{}

// GeoIP names the MaxMind-format database country matches use.
type GeoIP struct{}

// canaryPolicy validates a canary split; route is nil on a listener.
func (v *validator) canaryPolicy(cfg *Config, p *CanaryPolicy, path, ctx string, line int, route *Route) {
}

func (v *validator) mirrorPolicy(cfg *Config, p *MirrorPolicy, path, ctx string, line int) {}

// geoIP validates the top-level geoip: block and the routes' client_ip and country matches.
func (v *validator) geoIP(cfg *Config) {}
