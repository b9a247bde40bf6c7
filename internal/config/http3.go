package config

// http3Listener validates http3: it needs TLS, since QUIC always encrypts.
func (v *validator) http3Listener(l *Listener, path, ctx string) {
	if l.HTTP3 {
		v.errAt(path+".http3", l.Line, "%s: http3 is not supported yet; remove it", ctx)
	}
}
