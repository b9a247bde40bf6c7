package alert

import (
	"fmt"
	"math"
	"time"

	"aya/internal/observe/analytics"
)

// The detector samples each route's request rate, p95 latency and 5xx rate once per interval
// and keeps an exponentially weighted mean and variance of each (EWMA). A sample more than
// Sensitivity standard deviations from the mean, in the direction that hurts, is anomalous;
// two in a row fire, three normal ones in a row resolve. While a series is anomalous its
// baseline follows it slowly, so a lasting level shift becomes the new normal after a few
// minutes instead of alerting forever.
const (
	alpha      = 0.05 // about 20 samples of memory
	slowAlpha  = alpha / 5
	warmup     = 12 // samples before a series is judged
	fireAfter  = 2
	clearAfter = 3
	minSample  = 20 // requests in an interval for latency and error rate to mean something
)

type metric int

const (
	mRPS metric = iota
	mLatency
	mErrors
	numMetrics
)

var metricNames = [numMetrics]string{"rps", "latency", "errors"}

type detector struct {
	cfg    Anomaly
	next   time.Time
	series map[string]*[numMetrics]ewma // by route
}

type ewma struct {
	mean, vari  float64
	n           int
	bad, good   int
	firing      bool
	last, limit float64 // last sample and the bound it crossed, for the message
	usual       float64 // the mean when the series turned anomalous, for the message
}

func newDetector(cfg Anomaly) *detector {
	return &detector{cfg: cfg, series: map[string]*[numMetrics]ewma{}}
}

// observe samples every route when the interval has passed and returns the anomalies that
// hold. Between samples it returns the same ones, so alerts neither resolve nor refire.
func (d *detector) observe(now time.Time, m Metrics) []finding {
	if !d.cfg.Enabled || d.cfg.Interval <= 0 {
		return nil
	}
	if now.Before(d.next) {
		return d.findings()
	}
	d.next = now.Add(d.cfg.Interval).Add(-50 * time.Millisecond)
	live := map[string]bool{}
	for _, route := range m.Names(analytics.Route) {
		if route == "" {
			continue // requests no route matched: their rate is the client's business
		}
		live[route] = true
		s := d.series[route]
		if s == nil {
			s = new([numMetrics]ewma)
			d.series[route] = s
		}
		p := m.Summary(analytics.Route, route, d.cfg.Interval)
		secs := d.cfg.Interval.Seconds()
		// Counting noise of a rate over the interval, with a floor so a near-constant
		// series does not make every wobble look huge.
		rpsFloor := max(math.Sqrt(max(s[mRPS].mean, 1)/secs), 0.05*s[mRPS].mean, 0.5)
		if max(s[mRPS].mean, p.RPS) >= d.cfg.MinRPS {
			s[mRPS].sample(p.RPS, rpsFloor, 0, d.cfg.Sensitivity)
		}
		if p.Requests >= minSample && s[mRPS].mean >= d.cfg.MinRPS {
			s[mLatency].sample(p.P95, 0.1*s[mLatency].mean+0.001, 1, d.cfg.Sensitivity)
			q := s[mErrors].mean
			s[mErrors].sample(p.Err5xx, max(math.Sqrt(q*(1-q)/float64(p.Requests)), 0.02), 1, d.cfg.Sensitivity)
		}
	}
	for route := range d.series {
		if !live[route] {
			delete(d.series, route)
		}
	}
	return d.findings()
}

// sample adds x to the series. dir is 0 to watch both ways, 1 for rises only.
func (e *ewma) sample(x, floor float64, dir int, k float64) {
	e.n++
	e.last = x
	if e.n == 1 {
		e.mean = x
		return
	}
	std := max(math.Sqrt(e.vari), floor)
	z := (x - e.mean) / std
	a := max(alpha, 1/float64(e.n))
	anomalous := e.n > warmup && (z > k || (dir == 0 && z < -k))
	if anomalous {
		if e.bad == 0 && !e.firing {
			e.usual = e.mean
		}
		e.bad, e.good = e.bad+1, 0
		e.limit = e.mean + k*std
		if z < 0 {
			e.limit = e.mean - k*std
		}
		a = slowAlpha
	} else {
		e.good, e.bad = e.good+1, 0
	}
	switch {
	case !e.firing && e.bad >= fireAfter:
		e.firing = true
	case e.firing && e.good >= clearAfter:
		e.firing = false
	}
	diff := x - e.mean
	e.mean += a * diff
	e.vari = (1 - a) * (e.vari + a*diff*diff)
}

// findings reports the series that are firing.
func (d *detector) findings() []finding {
	var out []finding
	for route, s := range d.series {
		for m := range numMetrics {
			e := &s[m]
			if !e.firing {
				continue
			}
			f := finding{
				key: "anomaly/" + metricNames[m] + "/" + route, rule: "anomaly", typ: TypeAnomaly,
				severity: "warning", subject: "route " + route, value: e.last, threshold: e.limit,
			}
			switch metric(m) {
			case mRPS:
				verb := "rose"
				if e.last < e.usual {
					verb = "fell"
				}
				f.message = fmt.Sprintf("route %s: requests per second %s to %.1f, usually %.1f", route, verb, e.last, e.usual)
			case mLatency:
				f.message = fmt.Sprintf("route %s: p95 latency rose to %v, usually %v", route, seconds(e.last), seconds(e.usual))
			case mErrors:
				f.message = fmt.Sprintf("route %s: 5xx rate rose to %.1f%%, usually %.1f%%", route, 100*e.last, 100*e.usual)
			}
			out = append(out, f)
		}
	}
	return out
}
