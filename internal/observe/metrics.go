package observe

import (
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is aya's Prometheus registry and the families recorded on the request path. Labels
// are bounded by the config (route, upstream and target names) and by fixed sets (method,
// code class): never a raw path or a client address.
//
// Recording goes through handles resolved once per route and per target (Route, Target), so a
// request costs a few atomic adds and no label lookup. State that changes without requests
// (target health, TPS pools, connections) is read on scrape by collectors the gateway
// registers (Register).
type Metrics struct {
	reg *prometheus.Registry

	requests    *prometheus.CounterVec   // route, upstream, method, code_class
	duration    *prometheus.HistogramVec // route, upstream
	bytesIn     *prometheus.CounterVec   // route
	bytesOut    *prometheus.CounterVec   // route
	inFlight    atomic.Int64             // read on scrape: cheaper than a Gauge's float CAS, twice per request
	tries       *prometheus.CounterVec   // upstream, target, code_class
	tryDuration *prometheus.HistogramVec // upstream, target
	retries     *prometheus.CounterVec   // upstream
	logDropped  prometheus.Counter

	mu      sync.Mutex
	routes  map[[2]string]*RouteMetrics  // by route, upstream
	targets map[[2]string]*TargetMetrics // by upstream, target
}

// latencyBuckets suit a proxy: most answers take between a few hundred microseconds and a
// second, and the tail up to the default upstream timeouts still lands in a bucket.
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// NewMetrics returns a registry holding the request-path families and the Go runtime and
// process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aya_requests_total",
			Help: "Requests aya answered, by route (\"\" when none matched), upstream, method (other for unknown ones) and status class.",
		}, []string{"route", "upstream", "method", "code_class"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aya_request_duration_seconds",
			Help:    "Time from the request's arrival to the end of aya's answer.",
			Buckets: latencyBuckets,
		}, []string{"route", "upstream"}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aya_request_body_bytes_total",
			Help: "Request body bytes read from clients.",
		}, []string{"route"}),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aya_response_body_bytes_total",
			Help: "Response body bytes written to clients.",
		}, []string{"route"}),
		tries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aya_upstream_requests_total",
			Help: "Tries sent to upstream targets, by the target's status class (5xx also for connect and exchange failures, which aya answers 502 or 504).",
		}, []string{"upstream", "target", "code_class"}),
		tryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "aya_upstream_request_duration_seconds",
			Help:    "Time a try spent with the target: to the response head for a failed try, to the end of the body for the answer.",
			Buckets: latencyBuckets,
		}, []string{"upstream", "target"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "aya_upstream_retries_total",
			Help: "Tries after the first (retries and failover to another target).",
		}, []string{"upstream"}),
		logDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "aya_access_log_dropped_total",
			Help: "Access log lines dropped because the log's buffer was full (the output is slower than the traffic).",
		}),
		routes:  map[[2]string]*RouteMetrics{},
		targets: map[[2]string]*TargetMetrics{},
	}
	inFlight := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "aya_requests_in_flight",
		Help: "Requests being served now.",
	}, func() float64 { return float64(m.inFlight.Load()) })
	m.reg.MustRegister(m.requests, m.duration, m.bytesIn, m.bytesOut, inFlight, m.tries, m.tryDuration,
		m.retries, m.logDropped,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Register adds collectors read on scrape.
func (m *Metrics) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := m.reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// Gatherer is the registry, for tests and for serving it elsewhere.
func (m *Metrics) Gatherer() prometheus.Gatherer { return m.reg }

// Handler serves the registry in the Prometheus text (or OpenMetrics) format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// LogDropped counts access log lines lost to a full buffer.
func (m *Metrics) LogDropped() prometheus.Counter { return m.logDropped }

// Begin counts a request in flight until End.
func (m *Metrics) Begin() { m.inFlight.Add(1) }

// End counts a request no longer in flight.
func (m *Metrics) End() { m.inFlight.Add(-1) }

// Route returns the handle that records requests of one route (route "" for requests no route
// matched). The same handle comes back for the same names, so a reload keeps its series.
func (m *Metrics) Route(route, upstream string) *RouteMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{route, upstream}
	if rm, ok := m.routes[k]; ok {
		return rm
	}
	rm := &RouteMetrics{
		requests: m.requests,
		route:    route,
		upstream: upstream,
		duration: m.duration.WithLabelValues(route, upstream),
		bytesIn:  m.bytesIn.WithLabelValues(route),
		bytesOut: m.bytesOut.WithLabelValues(route),
	}
	m.routes[k] = rm
	return rm
}

// Target returns the handle that records the tries sent to one target of an upstream.
func (m *Metrics) Target(upstream, target string) *TargetMetrics {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := [2]string{upstream, target}
	if tm, ok := m.targets[k]; ok {
		return tm
	}
	tm := &TargetMetrics{
		tries:    m.tries,
		upstream: upstream,
		target:   target,
		duration: m.tryDuration.WithLabelValues(upstream, target),
		retries:  m.retries.WithLabelValues(upstream),
	}
	m.targets[k] = tm
	return tm
}

// Keep drops the series of routes and targets that are no longer configured, so a config
// that renames things does not leave dead series behind forever. Requests still finishing on
// the old config record into detached handles, which is harmless.
func (m *Metrics) Keep(routes, targets [][2]string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keep := make(map[[2]string]bool, len(routes)+len(targets))
	for _, k := range routes {
		keep[k] = true
	}
	liveRoute, liveUpstream := map[string]bool{}, map[string]bool{}
	for k := range m.routes {
		if keep[k] {
			liveRoute[k[0]] = true
		}
	}
	for k := range m.routes {
		if keep[k] {
			continue
		}
		delete(m.routes, k)
		m.requests.DeletePartialMatch(prometheus.Labels{"route": k[0], "upstream": k[1]})
		m.duration.DeleteLabelValues(k[0], k[1])
		if !liveRoute[k[0]] {
			m.bytesIn.DeleteLabelValues(k[0])
			m.bytesOut.DeleteLabelValues(k[0])
		}
	}
	clear(keep)
	for _, k := range targets {
		keep[k] = true
		liveUpstream[k[0]] = true
	}
	for k := range m.targets {
		if keep[k] {
			continue
		}
		delete(m.targets, k)
		m.tries.DeletePartialMatch(prometheus.Labels{"upstream": k[0], "target": k[1]})
		m.tryDuration.DeleteLabelValues(k[0], k[1])
		if !liveUpstream[k[0]] {
			m.retries.DeleteLabelValues(k[0])
		}
	}
}

// Methods with their own label value; any other is "other", so a client cannot create series.
var methods = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "other"}

const nMethods = len(methods)

func methodIndex(m string) int {
	switch m {
	case "GET":
		return 0
	case "HEAD":
		return 1
	case "POST":
		return 2
	case "PUT":
		return 3
	case "DELETE":
		return 4
	case "PATCH":
		return 5
	case "OPTIONS":
		return 6
	case "CONNECT":
		return 7
	case "TRACE":
		return 8
	}
	return nMethods - 1
}

var classes = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}

const nClasses = len(classes)

// CodeClass names a status's class: "2xx", …, or "other" outside 100–599.
func CodeClass(status int) string { return classes[classIndex(status)] }

func classIndex(status int) int {
	if status >= 100 && status < 600 {
		return status/100 - 1
	}
	return nClasses - 1
}

// RouteMetrics records the requests of one route. Series for a method and status class are
// created on first use (not all 60 up front, which would flood /metrics with zeros).
type RouteMetrics struct {
	requests        *prometheus.CounterVec
	route, upstream string
	duration        prometheus.Observer
	bytesIn         prometheus.Counter
	bytesOut        prometheus.Counter
	byCode          [nMethods][nClasses]atomic.Pointer[prometheus.Counter]
}

// Observe records one finished request.
func (rm *RouteMetrics) Observe(r *Record) {
	rm.counter(methodIndex(r.Method), classIndex(r.Status)).Inc()
	rm.duration.Observe(r.Duration.Seconds())
	if r.BytesIn > 0 {
		rm.bytesIn.Add(float64(r.BytesIn))
	}
	if r.BytesOut > 0 {
		rm.bytesOut.Add(float64(r.BytesOut))
	}
}

func (rm *RouteMetrics) counter(m, c int) prometheus.Counter {
	slot := &rm.byCode[m][c]
	if p := slot.Load(); p != nil {
		return *p
	}
	// Two requests racing here get the same child from the vector; either store is fine.
	ctr := rm.requests.WithLabelValues(rm.route, rm.upstream, methods[m], classes[c])
	slot.Store(&ctr)
	return ctr
}

// TargetMetrics records the tries sent to one target.
type TargetMetrics struct {
	tries            *prometheus.CounterVec
	upstream, target string
	duration         prometheus.Observer
	retries          prometheus.Counter
	byCode           [nClasses]atomic.Pointer[prometheus.Counter]
}

// Try records one finished try (try counts from 0; later ones are retries).
func (tm *TargetMetrics) Try(try, status int, d time.Duration) {
	tm.counter(classIndex(status)).Inc()
	tm.duration.Observe(d.Seconds())
	if try > 0 {
		tm.retries.Inc()
	}
}

func (tm *TargetMetrics) counter(c int) prometheus.Counter {
	slot := &tm.byCode[c]
	if p := slot.Load(); p != nil {
		return *p
	}
	ctr := tm.tries.WithLabelValues(tm.upstream, tm.target, classes[c])
	slot.Store(&ctr)
	return ctr
}
