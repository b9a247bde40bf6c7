package gateway

import (
	"github.com/prometheus/client_golang/prometheus"

	"aya/internal/config"
	"aya/internal/geo"
	"aya/internal/policy"
	"aya/internal/policy/canary"
	"aya/internal/policy/mirror"
	"aya/internal/route"
)

// trafficPolicies are a snapshot's canary splits and mirrors, for their metrics.
type trafficPolicies struct {
	splits  []routeSplit
	mirrors []routeMirror
}

type routeSplit struct {
	route string
	split *canary.Split
}

type routeMirror struct {
	route, upstream string
	mirror          *mirror.Mirror
}

func (b *policyBuild) canary(c *config.CanaryPolicy) (policy.Middleware, error) {
	o := canary.Options{Primary: b.route.Upstream, Expose: c.Expose}
	for _, u := range c.Upstreams {
		h, err := b.proxyTo(u.Name)
		if err != nil {
			return nil, err
		}
		o.Canaries = append(o.Canaries, canary.Branch{Name: u.Name, Weight: float64(u.Weight), Handler: h})
	}
	override := func(c *config.CanaryOverride) *canary.Override {
		if c == nil {
			return nil
		}
		return &canary.Override{Name: c.Name, Value: c.Value, To: c.Upstream}
	}
	o.Header, o.Cookie = override(c.Header), override(c.Cookie)
	if s := c.Sticky; s != nil {
		switch s.By {
		case config.CanaryStickyIP:
			o.Sticky = canary.StickyIP
		default:
			o.Sticky = canary.StickyCookie
			o.StickyCookie, o.StickyTTL, o.Secure = s.Cookie, s.TTL.D(), s.Secure
		}
	}
	s, err := canary.New(o)
	if err != nil {
		return nil, err
	}
	b.snap.traffic.splits = append(b.snap.traffic.splits, routeSplit{route: b.route.Name, split: s})
	return s.Middleware(), nil
}

func (b *policyBuild) mirror(c *config.MirrorPolicy) (policy.Middleware, error) {
	shadow, err := b.proxyTo(c.Upstream)
	if err != nil {
		return nil, err
	}
	m, err := mirror.New(mirror.Options{
		Shadow:      shadow,
		Percent:     float64(c.Percent),
		MaxBody:     int64(c.MaxBody),
		Timeout:     c.Timeout.D(),
		MaxInFlight: c.MaxInFlight,
		Log:         b.log.With("mirror", c.Upstream),
	})
	if err != nil {
		return nil, err
	}
	// Copies under way belong to the snapshot that made them: a reload cancels them.
	b.onClose(m.Close)
	b.snap.traffic.mirrors = append(b.snap.traffic.mirrors, routeMirror{route: b.route.Name, upstream: c.Upstream, mirror: m})
	return m.Middleware(), nil
}

// openGeo reads the country database match.country uses; nil without geoip:. Each snapshot
// reads the file anew, so a reload picks up an updated database.
func openGeo(cfg *config.Config) (route.Countries, error) {
	if cfg.GeoIP == nil {
		return nil, nil
	}
	db, err := geo.Open(cfg.GeoIP.Database)
	if err != nil {
		return nil, config.Error{File: cfg.File, Line: cfg.GeoIP.Line, Msg: err.Error() + ": point geoip.database at a MaxMind .mmdb country database"}
	}
	return db, nil
}

var (
	descCanary = desc("aya_canary_requests_total", "Requests a canary split sent to each branch (the route's own upstream or a canary), by why: weight, header, cookie or sticky.", "route", "upstream", "reason")
	descMirror = desc("aya_mirror_requests_total", "Requests sampled for mirroring, by result: sent (the shadow answered), failed (no answer or 5xx), dropped (max_in_flight copies under way), too_large (body over max_body).", "route", "upstream", "result")
)

func describeTraffic(ch chan<- *prometheus.Desc) {
	ch <- descCanary
	ch <- descMirror
}

// collectTraffic reports the snapshot's canary and mirror counters. A route's chain may be
// built more than once (once per listener with default policies), so counts are summed by
// label set before they are sent.
func collectTraffic(ch chan<- prometheus.Metric, t *trafficPolicies) {
	sums := map[[4]string]uint64{}
	for _, rs := range t.splits {
		for i, name := range rs.split.Branches() {
			for _, why := range canary.Reasons() {
				if n := rs.split.Served(i, why); n > 0 {
					sums[[4]string{"c", rs.route, name, why.String()}] += n
				}
			}
		}
	}
	for _, rm := range t.mirrors {
		st := rm.mirror.Stats()
		for result, n := range map[string]uint64{"sent": st.Sent, "failed": st.Failed, "dropped": st.Dropped, "too_large": st.TooLarge} {
			sums[[4]string{"m", rm.route, rm.upstream, result}] += n
		}
	}
	for k, n := range sums {
		d := descCanary
		if k[0] == "m" {
			d = descMirror
		}
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(n), k[1], k[2], k[3])
	}
}
