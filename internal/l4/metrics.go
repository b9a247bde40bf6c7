package l4

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the L4 proxies' Prometheus series. One Metrics serves every tcp and udp
// listener of a gateway (the listener is a label), across reloads. A udp flow counts as a
// connection. Labels stay bounded: listeners, upstreams and targets come from config.
type Metrics struct {
	active   *prometheus.GaugeVec     // listener, protocol
	total    *prometheus.CounterVec   // listener, protocol, upstream, target
	bytes    *prometheus.CounterVec   // listener, upstream, target, direction
	duration *prometheus.HistogramVec // listener, protocol, upstream, target
	connFail *prometheus.CounterVec   // listener, upstream, target
	rejected *prometheus.CounterVec   // listener, reason
}

// Reasons a connection is closed before it reaches a target, for aya_l4_rejected_total.
const (
	rejectLimit    = "max_conns"      // max_conns or max_conns_per_ip reached
	rejectProxy    = "proxy_protocol" // no valid PROXY header where one is required
	rejectSNI      = "no_upstream"    // the server name (or its absence) matches no upstream
	rejectNoTarget = "no_target"      // every target failed to connect, or none is usable
	rejectAdmit    = "upstream_full"  // the upstream's circuit breaker or caps refused it
)

// NewMetrics creates the series; register Collectors on the gateway's registry.
func NewMetrics() *Metrics {
	return &Metrics{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "aya_l4_connections_active",
			Help: "Open L4 connections (tcp) and flows (udp), by listener."}, []string{"listener", "protocol"}),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aya_l4_connections_total",
			Help: "L4 connections (tcp) and flows (udp) proxied to a target."}, []string{"listener", "protocol", "upstream", "target"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aya_l4_bytes_total",
			Help: "Bytes proxied: direction in is client to target, out is target to client."}, []string{"listener", "upstream", "target", "direction"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "aya_l4_connection_duration_seconds",
			Help:    "How long L4 connections and flows lasted, from accept (or first datagram) to close.",
			Buckets: []float64{.001, .01, .1, 1, 10, 60, 300, 1800, 3600}}, []string{"listener", "protocol", "upstream", "target"}),
		connFail: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aya_l4_connect_failures_total",
			Help: "Failed connects to a target (refused, unreachable, timed out); the connection moves to another target."}, []string{"listener", "upstream", "target"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "aya_l4_rejected_total",
			Help: "L4 connections closed before reaching a target, by reason (max_conns, proxy_protocol, no_upstream, no_target, upstream_full)."}, []string{"listener", "reason"}),
	}
}

// Collectors lists the series to register.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.active, m.total, m.bytes, m.duration, m.connFail, m.rejected}
}

// conn is the series of one connection to one target, resolved once so the copy loops add to
// counters without label lookups.
type connMetrics struct {
	in, out prometheus.Counter
}

func (m *Metrics) forTarget(listener, protocol, upstream, target string) connMetrics {
	m.total.WithLabelValues(listener, protocol, upstream, target).Inc()
	return connMetrics{
		in:  m.bytes.WithLabelValues(listener, upstream, target, "in"),
		out: m.bytes.WithLabelValues(listener, upstream, target, "out"),
	}
}
