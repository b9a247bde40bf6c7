package config

import "fmt"

func (v *validator) listeners(cfg *Config) {
	if len(cfg.Listeners) == 0 {
		v.errAt("listeners", 1, `no listeners: add one, like listeners: [{name: web, address: "127.0.0.1:8080"}]`)
		return
	}
	names := make(map[string]int)
	var addrs, udpAddrs []bound
	for i := range cfg.Listeners {
		l := &cfg.Listeners[i]
		path := fmt.Sprintf("listeners[%d]", i)
		if v.bad[path] {
			continue
		}
		v.name("listener", l.Name, i, path, l.Line, names)
		ctx := objName("listener", l.Name, i)

		al := v.line(path+".address", l.Line)
		host, port, msg := splitAddress(l.Address, true)
		if msg != "" {
			v.errAt(path+".address", l.Line, "%s: %s", ctx, msg)
		} else {
			// A udp listener binds a UDP socket, which shares no port space with TCP ones.
			b := bound{what: ctx, addr: l.Address, host: host, port: port, line: al}
			seen := &addrs
			if l.Protocol == ListenerUDP {
				seen = &udpAddrs
			}
			if c, ok := conflict(*seen, b); ok {
				v.errf(al, "%s: address %q overlaps %s (%s, line %d): two listeners cannot bind it", ctx, l.Address, c.what, c.addr, c.line)
			}
			*seen = append(*seen, b)
		}

		if l.TLS != nil && l.Protocol == ListenerHTTP {
			v.listenerTLS(l.TLS, path+".tls", ctx+" tls")
			if l.H2C {
				v.errAt(path+".h2c", l.Line, "%s: h2c is for plain listeners; a TLS listener offers HTTP/2 through ALPN already, remove h2c", ctx)
			}
		}
		v.positiveTimeouts(l.Timeouts, path+".timeouts", ctx+" timeouts", l.Line)
		v.listenerLimits(l, path, ctx)
		v.policies(cfg, l.Policies, path, ctx, l.Line, nil)
		v.l4Listener(l, path, ctx)
		v.http3Listener(l, path, ctx)
	}
}

func (v *validator) listenerLimits(l *Listener, path, ctx string) {
	lim := &l.Limits
	lp := path + ".limits"
	if lim.MaxConns < 0 {
		v.errAt(lp+".max_conns", l.Line, "%s limits: max_conns must not be negative (0 = unlimited)", ctx)
	}
	if lim.MaxConnsPerIP < 0 {
		v.errAt(lp+".max_conns_per_ip", l.Line, "%s limits: max_conns_per_ip must not be negative (0 = unlimited)", ctx)
	}
	if lim.MaxConns > 0 && lim.MaxConnsPerIP > lim.MaxConns {
		v.errAt(lp+".max_conns_per_ip", l.Line, "%s limits: max_conns_per_ip (%d) is above max_conns (%d)", ctx, lim.MaxConnsPerIP, lim.MaxConns)
	}
	if lim.MaxRequestLine < 256 {
		v.errAt(lp+".max_request_line", l.Line, "%s limits: max_request_line must be at least 256 bytes, got %d", ctx, int64(lim.MaxRequestLine))
	}
	if lim.MaxHeaderBytes < 1024 {
		v.errAt(lp+".max_header_bytes", l.Line, "%s limits: max_header_bytes must be at least 1KB, got %d", ctx, int64(lim.MaxHeaderBytes))
	}
	if lim.MaxHeaderCount < 1 {
		v.errAt(lp+".max_header_count", l.Line, "%s limits: max_header_count must be at least 1, got %d", ctx, lim.MaxHeaderCount)
	}
	if l.H2.MaxConcurrentStreams < 1 {
		v.errAt(path+".h2.max_concurrent_streams", l.Line, "%s h2: max_concurrent_streams must be at least 1", ctx)
	}
}

func (v *validator) listenerTLS(t *ListenerTLS, path, ctx string) {
	if len(t.Certificates) == 0 {
		v.errAt(path+".certificates", t.Line, "%s: certificates is empty: add at least one {cert: cert.pem, key: key.pem}", ctx)
	}
	for i := range t.Certificates {
		c := &t.Certificates[i]
		cp := fmt.Sprintf("%s.certificates[%d]", path, i)
		if v.bad[cp] {
			continue
		}
		cctx := fmt.Sprintf("%s certificate #%d", ctx, i+1)
		c.Cert, c.Key = v.resolvePath(c.Cert), v.resolvePath(c.Key)
		switch {
		case c.Cert == "":
			v.errf(c.Line, "%s: cert is required (a PEM certificate chain file)", cctx)
		case c.Key == "":
			v.errf(c.Line, "%s: key is required (the PEM private key file of cert)", cctx)
		default:
			if err := loadKeyPair(c.Cert, c.Key); err != nil {
				v.errAt(cp+".cert", c.Line, "%s: %v", cctx, err)
			}
		}
	}
	switch t.MinVersion {
	case "1.2", "1.3":
	default:
		v.errAt(path+".min_version", t.Line, `%s: min_version must be "1.2" or "1.3", got %q`, ctx, t.MinVersion)
	}
	if t.ClientCA != "" {
		t.ClientCA = v.resolvePath(t.ClientCA)
		if err := loadCAs(t.ClientCA); err != nil {
			v.errAt(path+".client_ca", t.Line, "%s: client_ca: %v", ctx, err)
		}
	}
	ap := path + ".client_auth"
	switch t.ClientAuth {
	case "":
		t.ClientAuth = ClientAuthNone
		if t.ClientCA != "" {
			t.ClientAuth = ClientAuthRequire
		}
	case ClientAuthNone:
		if t.ClientCA != "" {
			v.errAt(ap, t.Line, "%s: client_auth none ignores client_ca: use request or require, or remove client_ca", ctx)
		}
	case ClientAuthRequest, ClientAuthRequire:
		if t.ClientCA == "" {
			v.errAt(ap, t.Line, "%s: client_auth %s needs client_ca, the CA bundle client certificates are verified against", ctx, t.ClientAuth)
		}
	default:
		v.errAt(ap, t.Line, "%s: invalid client_auth %q: use none, request or require", ctx, t.ClientAuth)
	}
}
