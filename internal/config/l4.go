package config

// l4Listener validates a listener's protocol (http, tcp, udp) and what tcp and udp need.
func (v *validator) l4Listener(cfg *Config, l *Listener, path, ctx string) {
	switch l.Protocol {
	case "http":
	default:
		v.errAt(path+".protocol", l.Line, "%s: protocol %q is not supported yet; use http", ctx, l.Protocol)
	}
}
