package upstream

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"aya/internal/config"
)

// minRefresh bounds how often a short TTL makes discovery ask again.
const minRefresh = time.Second

// resolver keeps an upstream's discovered targets in step with a DNS name.
type resolver struct {
	cfg    config.DNSDiscovery
	cancel context.CancelFunc
}

func startResolver(r *Registry, us *upstreamState, cfg config.DNSDiscovery) *resolver {
	ctx, cancel := context.WithCancel(r.ctx)
	res := &resolver{cfg: cfg, cancel: cancel}
	r.wg.Add(1)
	go func() {
		defer r.wg.Done()
		log := us.log.With("dns", cfg.Name, "type", cfg.Type)
		for {
			specs, ttl, err := lookup(ctx, cfg)
			wait := cfg.Refresh.D()
			switch {
			case ctx.Err() != nil:
				return
			case err != nil:
				log.Warn("DNS discovery failed; keeping the targets found before", "error", err)
			case len(specs) == 0:
				log.Warn("DNS discovery found no records; keeping the targets found before")
			default:
				wait = min(wait, max(ttl, minRefresh))
				us.mu.Lock()
				changed := !slices.EqualFunc(us.overlay.discovered, specs, sameSpec)
				us.overlay.discovered = specs
				us.mu.Unlock()
				if changed {
					log.Info("DNS discovery changed the targets", "targets", len(specs))
					if err := us.reapply(r); err != nil {
						log.Warn("some discovered targets could not be built", "error", err)
					}
				}
			}
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
	}()
	return res
}

// lookup resolves cfg once and returns the targets, sorted by URL, and the smallest TTL.
func lookup(ctx context.Context, cfg config.DNSDiscovery) ([]config.Target, time.Duration, error) {
	server := cfg.Server
	if server == "" {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil || len(cc.Servers) == 0 {
			return nil, 0, fmt.Errorf("no DNS server: set discovery.dns.server (reading /etc/resolv.conf: %v)", err)
		}
		server = net.JoinHostPort(cc.Servers[0], cc.Port)
	}
	c := &dns.Client{Timeout: 5 * time.Second}
	ask := func(name string, qtype uint16) (*dns.Msg, error) {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(name), qtype)
		in, _, err := c.ExchangeContext(ctx, m, server)
		if err != nil {
			return nil, fmt.Errorf("asking %s for %s %s: %w", server, name, dns.TypeToString[qtype], err)
		}
		if in.Rcode != dns.RcodeSuccess {
			return nil, fmt.Errorf("%s %s: %s", name, dns.TypeToString[qtype], dns.RcodeToString[in.Rcode])
		}
		return in, nil
	}
	ttl := time.Duration(1<<63 - 1)
	note := func(h *dns.RR_Header) { ttl = min(ttl, time.Duration(h.Ttl)*time.Second) }
	addrs := func(in *dns.Msg, rrs []dns.RR) []string {
		var out []string
		for _, rr := range rrs {
			switch a := rr.(type) {
			case *dns.A:
				note(&a.Hdr)
				out = append(out, a.A.String())
			case *dns.AAAA:
				note(&a.Hdr)
				out = append(out, a.AAAA.String())
			}
		}
		return out
	}

	var specs []config.Target
	add := func(ip string, port, weight, priority int) error {
		t, err := config.NewTarget(cfg.Scheme+"://"+net.JoinHostPort(ip, strconv.Itoa(port)), max(weight, 1))
		if err != nil {
			return err
		}
		t.Priority = priority
		specs = append(specs, t)
		return nil
	}
	switch cfg.Type {
	case config.DNSTypeA, config.DNSTypeAAAA:
		qtype := dns.TypeA
		if cfg.Type == config.DNSTypeAAAA {
			qtype = dns.TypeAAAA
		}
		in, err := ask(cfg.Name, qtype)
		if err != nil {
			return nil, 0, err
		}
		for _, ip := range addrs(in, in.Answer) {
			if err := add(ip, cfg.Port, 1, 0); err != nil {
				return nil, 0, err
			}
		}
	case config.DNSTypeSRV:
		in, err := ask(cfg.Name, dns.TypeSRV)
		if err != nil {
			return nil, 0, err
		}
		var srvs []*dns.SRV
		for _, rr := range in.Answer {
			if s, ok := rr.(*dns.SRV); ok {
				note(&s.Hdr)
				srvs = append(srvs, s)
			}
		}
		// SRV priorities are arbitrary numbers; aya's levels are their rank (lowest first).
		var prios []int
		for _, s := range srvs {
			if !slices.Contains(prios, int(s.Priority)) {
				prios = append(prios, int(s.Priority))
			}
		}
		sort.Ints(prios)
		for _, s := range srvs {
			host := strings.TrimSuffix(s.Target, ".")
			var ips []string
			for _, rr := range in.Extra {
				if strings.EqualFold(strings.TrimSuffix(rr.Header().Name, "."), host) {
					ips = append(ips, addrs(in, []dns.RR{rr})...)
				}
			}
			if len(ips) == 0 {
				if a, err := ask(host, dns.TypeA); err == nil {
					ips = addrs(a, a.Answer)
				}
			}
			for _, ip := range ips {
				if err := add(ip, int(s.Port), int(s.Weight), slices.Index(prios, int(s.Priority))); err != nil {
					return nil, 0, err
				}
			}
		}
	}
	sort.Slice(specs, func(i, j int) bool { return specs[i].URL < specs[j].URL })
	return specs, ttl, nil
}
