package gateway

import (
	"context"
	"fmt"
	"io"
	"os"
	"reflect"
	"sync"
	"time"

	"aya/internal/config"
	"aya/internal/httpx"
	"aya/internal/observe"
	"aya/internal/upstream"
)

// obsTables is what a snapshot records requests with: per-route metric handles resolved once,
// the per-target handles, and the access log and tracer of its config (nil when off).
type obsTables struct {
	routes  []routeObs // by route index
	none    routeObs   // requests no route matched
	llm     routeObs   // the LLM API (llm:), which no route serves; zero without llm:
	targets sync.Map   // *upstream.Target → *observe.TargetMetrics
	metrics *observe.Metrics
	access  *observe.AccessLog
	tracer  *observe.Tracer
	// outputs are the access log's and tracer's resources, handed to the next snapshot when
	// their config is unchanged and closed by the last snapshot that used them.
	logRes   *logResource
	traceRes *traceResource
}

// llmRoute is the route label of requests to the LLM API.
const llmRoute = "(llm)"

type routeObs struct {
	metrics  *observe.RouteMetrics
	name     string
	upstream string
	log      bool // access log on for the route
}

// target returns the handle for t. Targets added after the snapshot was built (the admin API,
// DNS discovery) get theirs on first use, named after the route's upstream.
func (o *obsTables) target(t *upstream.Target, upstreamName string) *observe.TargetMetrics {
	if tm, ok := o.targets.Load(t); ok {
		return tm.(*observe.TargetMetrics)
	}
	tm := o.metrics.Target(upstreamName, t.Name)
	o.targets.Store(t, tm)
	return tm
}

// logResource is an open access log and the file under it (nil for stdout/stderr).
type logResource struct {
	cfg  config.AccessLog
	log  *observe.AccessLog
	file io.Closer
}

func (l *logResource) close() {
	l.log.Close()
	if l.file != nil {
		l.file.Close()
	}
}

// traceResource is a running tracer and the config that made it.
type traceResource struct {
	cfg    config.Tracing
	tracer *observe.Tracer
}

// buildObs makes the snapshot's tables, reusing prev's access log and tracer when their config
// did not change. Opening a log file or starting an exporter can fail: the error names the key.
func buildObs(cfg *config.Config, s *snapshot, prev *snapshot, m *observe.Metrics) (*obsTables, error) {
	o := &obsTables{metrics: m, routes: make([]routeObs, len(cfg.Routes))}
	o.none = routeObs{metrics: m.Route("", ""), log: cfg.AccessLog.Enabled}
	keepRoutes := make([][2]string, 0, len(cfg.Routes)+2)
	keepRoutes = append(keepRoutes, [2]string{"", ""})
	if cfg.LLM != nil {
		// Parentheses cannot appear in a route's name, so this never collides with one.
		o.llm = routeObs{metrics: m.Route(llmRoute, ""), name: llmRoute, log: cfg.AccessLog.Enabled}
		keepRoutes = append(keepRoutes, [2]string{llmRoute, ""})
	}
	for i := range cfg.Routes {
		rc := &cfg.Routes[i]
		o.routes[i] = routeObs{
			metrics:  m.Route(rc.Name, rc.Upstream),
			name:     rc.Name,
			upstream: rc.Upstream,
			log:      cfg.AccessLog.Enabled && (rc.AccessLog == nil || *rc.AccessLog),
		}
		keepRoutes = append(keepRoutes, [2]string{rc.Name, rc.Upstream})
	}
	var keepTargets [][2]string
	for name, p := range s.pools {
		for _, t := range p.pool.Targets() {
			o.targets.Store(t, m.Target(name, t.Name))
			keepTargets = append(keepTargets, [2]string{name, t.Name})
		}
	}
	m.Keep(keepRoutes, keepTargets)

	var prevObs *obsTables
	if prev != nil {
		prevObs = prev.obs
	}
	if cfg.AccessLog.Enabled {
		if prevObs != nil && prevObs.logRes != nil && prevObs.logRes.cfg == cfg.AccessLog {
			o.logRes = prevObs.logRes
		} else {
			lr, err := openAccessLog(cfg.AccessLog, m)
			if err != nil {
				return nil, fmt.Errorf("%s: access_log: %w", cfg.File, err)
			}
			o.logRes = lr
		}
		o.access = o.logRes.log
	}
	if t := cfg.Tracing; t != nil {
		if prevObs != nil && prevObs.traceRes != nil && sameTracing(prevObs.traceRes.cfg, *t) {
			o.traceRes = prevObs.traceRes
		} else {
			tr, err := observe.NewTracer(context.Background(), observe.TraceOptions{
				Endpoint: t.Endpoint, Protocol: t.Protocol, Headers: t.Headers, Sample: float64(t.Sample),
				ServiceName: t.ServiceName, Timeout: t.Timeout.D(), FlushInterval: t.FlushInterval.D(),
			})
			if err != nil {
				o.closeNotIn(prevObs) // the access log opened above, not one handed over
				return nil, fmt.Errorf("%s:%d: %w", cfg.File, t.Line, err)
			}
			o.traceRes = &traceResource{cfg: *t, tracer: tr}
		}
		o.tracer = o.traceRes.tracer
	}
	return o, nil
}

func sameTracing(a, b config.Tracing) bool {
	a.Line, b.Line = 0, 0
	return reflect.DeepEqual(a, b)
}

func openAccessLog(c config.AccessLog, m *observe.Metrics) (*logResource, error) {
	var out io.Writer
	var file io.Closer
	switch c.Output {
	case "stdout":
		out = os.Stdout
	case "stderr":
		out = os.Stderr
	default:
		f, err := observe.OpenRotating(c.Output, int64(c.MaxSize), c.MaxFiles)
		if err != nil {
			return nil, err
		}
		out, file = f, f
	}
	l, err := observe.NewAccessLog(observe.AccessLogOptions{
		Format: c.Format, Output: out, Sample: float64(c.Sample), Buffer: int(c.Buffer), Dropped: m.LogDropped(),
	})
	if err != nil {
		if file != nil {
			file.Close()
		}
		return nil, err
	}
	return &logResource{cfg: c, log: l, file: file}, nil
}

// closeNotIn closes the access log and tracer of o that next does not use (all of them when
// next is nil).
func (o *obsTables) closeNotIn(next *obsTables) {
	if o == nil {
		return
	}
	if o.logRes != nil && (next == nil || next.logRes != o.logRes) {
		o.logRes.close()
	}
	if o.traceRes != nil && (next == nil || next.traceRes != o.traceRes) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		o.traceRes.tracer.Shutdown(ctx)
		cancel()
	}
}

// stateOf returns the dispatcher's state of r, or nil for a request that did not come through
// the dispatcher (a test calling a proxy directly).
func stateOf(r *httpx.Request) *reqState {
	st, _ := r.Local.(*reqState)
	return st
}

// observer is the proxy's Observer: it adds each try to the request's record, metrics and
// trace. It holds no state of its own; everything is in the request's reqState.
type observer struct{}

func (observer) BeginTry(r *httpx.Request, out *httpx.Request, t *upstream.Target, try int) {
	st := stateOf(r)
	if st == nil || st.obs.tracer == nil {
		return
	}
	st.trySpan = st.obs.tracer.StartTry(st.spanCtx, out, st.route.upstream, t.Name, try)
}

func (observer) EndTry(r *httpx.Request, t *upstream.Target, try int, status int, d time.Duration, err error) {
	st := stateOf(r)
	if st == nil {
		return
	}
	st.tries++
	st.upstreamTime += d
	st.target = t.Name
	st.obs.target(t, st.route.upstream).Try(try, status, d)
	if st.trySpan != nil {
		observe.EndTry(st.trySpan, status, err)
		st.trySpan = nil
	}
}
