package config

// http3Listener validates http3: QUIC always encrypts, so it needs the listener's tls, and it
// serves routes, so only protocol http listeners can have it.
func (v *validator) http3Listener(l *Listener, path, ctx string) {
	if !l.HTTP3 {
		return
	}
	hp := path + ".http3"
	if l.TLS == nil {
		v.errAt(hp, l.Line, "%s: http3 needs tls (QUIC always encrypts): add tls: {certificates: [{cert: cert.pem, key: key.pem}]}, or remove http3", ctx)
	}
	if l.Protocol != "" && l.Protocol != "http" {
		v.errAt(hp, l.Line, "%s: http3 serves routes, so it is for protocol http listeners, not %s: remove http3", ctx, l.Protocol)
	}
}
