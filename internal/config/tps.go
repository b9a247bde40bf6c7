package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// TPS configures shared-capacity pools: several services calling one upstream that allows a
// fixed number of requests per second, divided by priority and demand (internal/tps).
type TPS struct {
	Pools []TPSPool `yaml:"pools"`
}

// TPS allocators for TPSPool.Allocator.
var tpsAllocators = []string{"static", "proportional", "waterfill", "aimd", "learned"}

// TPSPool is one shared capacity.
type TPSPool struct {
	Line int `yaml:"-"`

	Name      string   `yaml:"name"`
	Capacity  Rate     `yaml:"capacity"`                      // requests per second the upstream allows
	Allocator string   `yaml:"allocator" default:"waterfill"` // static, proportional, waterfill, aimd, learned
	Tick      Duration `yaml:"tick" default:"250ms"`          // how often shares are recomputed
	// Margin is kept free below Capacity for jitter between aya's send and the upstream's count.
	Margin Ratio    `yaml:"margin" default:"2%"`
	Queue  TPSQueue `yaml:"queue"`
	// Model is the learned allocator's model file; empty uses the model built into aya.
	Model string `yaml:"model"`
	// Shadow runs the learned allocator beside waterfill: learned computes and reports, waterfill
	// enforces.
	Shadow bool `yaml:"shadow"`
	// Retrain, for the learned allocator: when drift is detected, train a new model on the
	// last minutes of this pool's traffic in the background (at most half a core), check it
	// against the model in charge on a replay, run it in shadow for a burn-in, then let it
	// take over.
	Retrain  bool         `yaml:"retrain"`
	Services []TPSService `yaml:"services"`
}

// TPSQueue bounds the requests that wait for their share.
type TPSQueue struct {
	Max     int      `yaml:"max" default:"2000"`
	Timeout Duration `yaml:"timeout" default:"2s"`
}

// TPSService is one caller of a pool's upstream.
type TPSService struct {
	Line int `yaml:"-"`

	Name     string `yaml:"name"`
	Priority string `yaml:"priority" default:"medium"` // critical, high, medium or low
	Min      Rate   `yaml:"min"`                       // floor, requests per second
	Max      Rate   `yaml:"max"`                       // ceiling, 0 = none
}

// RouteTPS admits a route's requests through a TPS pool before they go upstream.
type RouteTPS struct {
	Pool string `yaml:"pool"`
	// Service names the pool's service the route's requests count against; or ServiceFrom
	// takes it from each request: "header:NAME".
	Service     string `yaml:"service"`
	ServiceFrom string `yaml:"service_from"`
}

// Rate is a number of requests per second, written as a number ("1500", "12.5") or with a
// unit ("1500/s", "90000/m").
type Rate float64

// UnmarshalText parses a rate.
func (r *Rate) UnmarshalText(b []byte) error {
	s := strings.TrimSpace(string(b))
	per := 1.0
	if num, unit, ok := strings.Cut(s, "/"); ok {
		switch strings.TrimSpace(unit) {
		case "s":
		case "m":
			per = 60
		case "h":
			per = 3600
		default:
			return fmt.Errorf("invalid rate %q: the unit after / must be s, m or h", s)
		}
		s = strings.TrimSpace(num)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return fmt.Errorf("invalid rate %q: want a non-negative number of requests per second, like 1500 or 1500/s", string(b))
	}
	*r = Rate(f / per)
	return nil
}

// MarshalText writes the rate per second.
func (r Rate) MarshalText() ([]byte, error) {
	return []byte(strconv.FormatFloat(float64(r), 'g', -1, 64)), nil
}

func (v *validator) tps(cfg *Config) {
	pools := map[string]*TPSPool{}
	names := map[string]int{}
	for i := range cfg.TPS.Pools {
		p := &cfg.TPS.Pools[i]
		path := fmt.Sprintf("tps.pools[%d]", i)
		if v.bad[path] {
			continue
		}
		v.name("tps pool", p.Name, i, path, p.Line, names)
		ctx := objName("tps pool", p.Name, i)
		pools[p.Name] = p
		if p.Capacity <= 0 {
			v.errAt(path+".capacity", p.Line, "%s: capacity must be above 0 requests per second", ctx)
		}
		if !slices.Contains(tpsAllocators, p.Allocator) {
			v.errAt(path+".allocator", p.Line, "%s: unknown allocator %q: use %s%s", ctx, p.Allocator, strings.Join(tpsAllocators, ", "), didYouMean(p.Allocator, tpsAllocators))
		}
		if p.Tick.D() < 10e6 || p.Tick.D() > 10e9 {
			v.errAt(path+".tick", p.Line, "%s: tick must be from 10ms to 10s, got %v", ctx, p.Tick)
		}
		if p.Margin < 0 || p.Margin >= 0.5 {
			v.errAt(path+".margin", p.Line, "%s: margin must be from 0 to 50%%, got %v", ctx, p.Margin)
		}
		if p.Queue.Max < 0 {
			v.errAt(path+".queue.max", p.Line, "%s: queue.max must not be negative", ctx)
		}
		if p.Queue.Timeout.D() < 0 {
			v.errAt(path+".queue.timeout", p.Line, "%s: queue.timeout must not be negative", ctx)
		}
		if p.Model != "" {
			p.Model = v.resolvePath(p.Model)
		}
		if p.Retrain && p.Allocator != "learned" {
			v.errAt(path+".retrain", p.Line, "%s: retrain is for allocator: learned (this pool uses %s): remove it or switch the allocator", ctx, p.Allocator)
		}
		if len(p.Services) == 0 {
			v.errAt(path+".services", p.Line, "%s: services: list at least one service that uses this pool", ctx)
		}
		svcNames := map[string]int{}
		var mins float64
		for j := range p.Services {
			s := &p.Services[j]
			sp := fmt.Sprintf("%s.services[%d]", path, j)
			if v.bad[sp] {
				continue
			}
			v.name("service", s.Name, j, sp, s.Line, svcNames)
			sctx := ctx + " " + objName("service", s.Name, j)
			switch strings.ToLower(s.Priority) {
			case "critical", "high", "medium", "low":
				s.Priority = strings.ToLower(s.Priority)
			default:
				v.errAt(sp+".priority", s.Line, "%s: priority %q: use critical, high, medium or low", sctx, s.Priority)
			}
			if s.Max > 0 && s.Max < s.Min {
				v.errAt(sp+".max", s.Line, "%s: max %v is below min %v", sctx, float64(s.Max), float64(s.Min))
			}
			mins += float64(s.Min)
		}
		if p.Capacity > 0 && mins > float64(p.Capacity)+1e-9 {
			v.errAt(path+".services", p.Line, "%s: the services' mins add up to %v, more than the capacity %v", ctx, mins, float64(p.Capacity))
		}
	}
	for i := range cfg.Routes {
		r := &cfg.Routes[i]
		if r.TPS == nil {
			continue
		}
		path := fmt.Sprintf("routes[%d].tps", i)
		ctx := objName("route", r.Name, i) + " tps"
		p, ok := pools[r.TPS.Pool]
		if !ok {
			var known []string
			for name := range pools {
				known = append(known, name)
			}
			slices.Sort(known)
			v.errAt(path+".pool", r.Line, "%s: pool %q is not defined under tps.pools%s", ctx, r.TPS.Pool, didYouMean(r.TPS.Pool, known))
			continue
		}
		switch {
		case r.TPS.Service != "" && r.TPS.ServiceFrom != "":
			v.errAt(path+".service_from", r.Line, "%s: set service or service_from, not both", ctx)
		case r.TPS.Service == "" && r.TPS.ServiceFrom == "":
			v.errAt(path+".service", r.Line, "%s: service is required (or service_from: header:NAME)", ctx)
		case r.TPS.Service != "":
			var svcs []string
			for _, s := range p.Services {
				svcs = append(svcs, s.Name)
			}
			if !slices.Contains(svcs, r.TPS.Service) {
				v.errAt(path+".service", r.Line, "%s: service %q is not in pool %q%s", ctx, r.TPS.Service, p.Name, didYouMean(r.TPS.Service, svcs))
			}
		default:
			if name, ok := strings.CutPrefix(r.TPS.ServiceFrom, "header:"); !ok || name == "" {
				v.errAt(path+".service_from", r.Line, "%s: service_from %q: use header:NAME", ctx, r.TPS.ServiceFrom)
			}
		}
	}
}
