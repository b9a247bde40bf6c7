package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"aya/internal/config"
	"aya/internal/httpx"
	"aya/internal/proxy"
	"aya/internal/tps"
	"aya/internal/tps/rl"
	"aya/internal/tps/sim"
)

// tpsPool is a live TPS pool with the config that built it, so a reload that leaves the pool
// unchanged hands it over (allocations, queues and counters carry on) instead of restarting it.
type tpsPool struct {
	cfg     config.TPSPool
	pool    *tps.Pool
	learned *rl.Allocator      // the learned allocator, for GET /tps; nil with another allocator
	cancel  context.CancelFunc // stops Run; nil until started
}

func buildTPSPools(cfg *config.Config, prev *snapshot, log *slog.Logger) (map[string]*tpsPool, error) {
	out := make(map[string]*tpsPool, len(cfg.TPS.Pools))
	for _, pc := range cfg.TPS.Pools {
		if prev != nil {
			if old, ok := prev.tps[pc.Name]; ok && sameTPSPool(old.cfg, pc) {
				out[pc.Name] = old
				continue
			}
		}
		p, learned, err := newTPSPool(pc, log)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: tps pool %q: %w", cfg.File, pc.Line, pc.Name, err)
		}
		out[pc.Name] = &tpsPool{cfg: pc, pool: p, learned: learned}
	}
	return out, nil
}

func sameTPSPool(a, b config.TPSPool) bool {
	a.Line, b.Line = 0, 0
	strip := func(s []config.TPSService) []config.TPSService {
		c := make([]config.TPSService, len(s))
		for i, v := range s {
			v.Line = 0
			c[i] = v
		}
		return c
	}
	a.Services, b.Services = strip(a.Services), strip(b.Services)
	return reflect.DeepEqual(a, b)
}

func newTPSPool(pc config.TPSPool, log *slog.Logger) (*tps.Pool, *rl.Allocator, error) {
	services := make([]tps.Service, len(pc.Services))
	for i, s := range pc.Services {
		pr, err := tps.ParsePriority(s.Priority)
		if err != nil {
			return nil, nil, err
		}
		services[i] = tps.Service{Name: s.Name, Priority: pr, Min: float64(s.Min), Max: float64(s.Max)}
	}
	var learnedAlloc *rl.Allocator
	learned := func() (tps.Allocator, error) {
		var m *rl.Model
		if pc.Model != "" {
			var err error
			if m, err = rl.LoadModelFile(pc.Model); err != nil {
				return nil, err
			}
		}
		o := rl.Options{Model: m, Shadow: pc.Shadow, Logger: log.With("tps_pool", pc.Name)}
		if pc.Retrain {
			o.Retrain = &rl.Retrain{Train: sim.RetrainOn(sim.RetrainConfig{
				Queue:  sim.QueueSpec{Max: pc.Queue.Max, Timeout: pc.Queue.Timeout.D()},
				Margin: float64(pc.Margin),
			})}
		}
		a, err := rl.New(o)
		learnedAlloc = a
		return a, err
	}
	alloc, err := tps.NewAllocator(pc.Allocator, tps.WithAllocator("learned", learned))
	if err != nil {
		return nil, nil, err
	}
	pool, err := tps.NewPool(tps.PoolConfig{
		Name:         pc.Name,
		Capacity:     float64(pc.Capacity),
		Tick:         pc.Tick.D(),
		Margin:       float64(pc.Margin),
		QueueMax:     pc.Queue.Max,
		QueueTimeout: pc.Queue.Timeout.D(),
		Services:     services,
	}, alloc)
	return pool, learnedAlloc, err
}

// startTPS runs the pools of next that are not running yet and stops those of old that next
// dropped or replaced. Stopping rejects their waiting requests at once.
func startTPS(ctx context.Context, old, next *snapshot) {
	for _, p := range next.tps {
		if p.cancel == nil {
			pctx, cancel := context.WithCancel(ctx)
			p.cancel = cancel
			go p.pool.Run(pctx)
		}
	}
	if old == nil {
		return
	}
	for name, p := range old.tps {
		if n, ok := next.tps[name]; ok && n == p {
			continue
		}
		if p.cancel != nil {
			p.cancel()
		}
		if p.learned != nil {
			p.learned.Close() // a training in progress stops
		}
	}
}

func stopTPS(s *snapshot) {
	for _, p := range s.tps {
		if p.cancel != nil {
			p.cancel()
		}
		if p.learned != nil {
			p.learned.Close() // a training in progress stops
		}
	}
}

// tpsGate admits a route's requests through its TPS pool: a request over its service's share
// waits in the pool's queue, and is answered 429 by aya itself when its deadline would pass, so
// the shared upstream never sees more than its cap. The upstream's 429s and rate-limit headers
// feed back into the pool's effective capacity.
type tpsGate struct {
	pool   *tps.Pool
	svc    int    // fixed service index, or -1 when taken from a header
	header string // service_from: header:NAME
	next   httpx.Handler
}

func newTPSGate(p *tps.Pool, rt *config.RouteTPS, next httpx.Handler) (*tpsGate, error) {
	g := &tpsGate{pool: p, svc: -1, next: next}
	if rt.Service != "" {
		i, ok := p.Service(rt.Service)
		if !ok {
			return nil, fmt.Errorf("service %q is not in tps pool %q", rt.Service, p.Name())
		}
		g.svc = i
	} else {
		g.header = strings.TrimPrefix(rt.ServiceFrom, "header:")
	}
	return g, nil
}

func (g *tpsGate) ServeHTTPX(w httpx.ResponseWriter, r *httpx.Request) {
	svc := g.svc
	if svc < 0 {
		name := r.Header.Get(g.header)
		i, ok := g.pool.Service(name)
		if !ok {
			if name == "" {
				proxy.WriteError(w, r, 400, "missing "+g.header+" header: name the calling service of tps pool "+g.pool.Name())
			} else {
				proxy.WriteError(w, r, 400, "unknown service "+strconv.Quote(name)+" in tps pool "+g.pool.Name())
			}
			return
		}
		svc = i
	}
	if err := g.pool.Admit(r.Context(), svc); err != nil {
		var rej *tps.RejectedError
		if errors.As(err, &rej) {
			writeTPSRejection(w, r, rej)
		}
		return
	}
	fw := feedbackWriters.Get().(*feedbackWriter)
	fw.ResponseWriter, fw.pool = w, g.pool
	g.next.ServeHTTPX(fw, r)
	fw.ResponseWriter, fw.pool = nil, nil
	feedbackWriters.Put(fw)
}

// writeTPSRejection answers 429 with Retry-After and a body naming the pool and service.
func writeTPSRejection(w httpx.ResponseWriter, r *httpx.Request, rej *tps.RejectedError) {
	secs := int(math.Ceil(rej.RetryAfter.Seconds()))
	if secs < 1 {
		secs = 1
	}
	msg := "capacity of tps pool " + rej.Pool + " exhausted for service " + rej.Service + ": " + rej.Reason
	if st := stateOf(r); st != nil {
		st.NoteError(msg)
	}
	body := fmt.Sprintf(`{"error":{"code":429,"message":%q,"pool":%q,"service":%q,"request_id":%q}}`+"\n",
		msg, rej.Pool, rej.Service, r.ID)
	h := w.Header()
	h.Reset()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("Retry-After", strconv.Itoa(secs))
	if r.ID != "" {
		h.Set("X-Request-ID", r.ID)
	}
	w.WriteHeader(429)
	w.Write([]byte(body))
}

// feedbackWriter watches the upstream's answer on its way to the client: a 429 lowers the
// pool's effective capacity (honouring Retry-After), and rate-limit headers report headroom.
type feedbackWriter struct {
	httpx.ResponseWriter
	pool *tps.Pool
}

var feedbackWriters = sync.Pool{New: func() any { return new(feedbackWriter) }}

func (f *feedbackWriter) WriteHeader(status int) {
	h := *f.ResponseWriter.Header()
	if status == 429 {
		f.pool.LiveRecord429(retryAfter(h.Get("Retry-After")))
	} else if rem, ok := headroom(h); ok {
		f.pool.LiveRecordHeadroom(rem, resetAfter(h))
	}
	f.ResponseWriter.WriteHeader(status)
}

func (f *feedbackWriter) Write(p []byte) (int, error) { return f.ResponseWriter.Write(p) }

// SetTrailer passes through, so gRPC trailers still work behind a gate. (Hijack does not:
// a tunnel would hold a share of the capacity for as long as it lives.)
func (f *feedbackWriter) SetTrailer(h httpx.Header) {
	if tw, ok := f.ResponseWriter.(httpx.TrailerWriter); ok {
		tw.SetTrailer(h)
	}
}

func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := time.Parse(time.RFC1123, v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}

// headroom reads the upstream's remaining requests from RateLimit-Remaining (IETF draft) or
// X-RateLimit-Remaining (GitHub, many APIs; also the -Requests suffix OpenAI uses).
func headroom(h httpx.Header) (float64, bool) {
	for _, name := range [...]string{"RateLimit-Remaining", "X-RateLimit-Remaining", "X-RateLimit-Remaining-Requests"} {
		if v := h.Get(name); v != "" {
			if f, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil && f >= 0 {
				return f, true
			}
		}
	}
	return 0, false
}

func resetAfter(h httpx.Header) time.Duration {
	for _, name := range [...]string{"RateLimit-Reset", "X-RateLimit-Reset", "X-RateLimit-Reset-Requests"} {
		v := strings.TrimSpace(h.Get(name))
		if v == "" {
			continue
		}
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
		if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
			if n > 1e9 { // an epoch timestamp
				return max(0, time.Until(time.Unix(int64(n), 0)))
			}
			return time.Duration(n * float64(time.Second))
		}
	}
	return time.Second
}

// handleTPS is GET /tps: every pool's capacity, effective capacity and, per service, its
// allocation, demand, served, queued and rejected.
func (g *Gateway) handleTPS(w http.ResponseWriter, _ *http.Request) {
	s := g.snap.Load()
	names := make([]string, 0, len(s.tps))
	for name := range s.tps {
		names = append(names, name)
	}
	slices.Sort(names)
	pools := make([]map[string]any, 0, len(names))
	for _, name := range names {
		snap := s.tps[name].pool.Snapshot()
		svcs := make([]map[string]any, len(snap.Services))
		for i, sv := range snap.Services {
			svcs[i] = map[string]any{
				"name": sv.Name, "priority": sv.Priority.String(), "min": sv.Min, "max": sv.Max,
				"allocation": sv.Allocation, "demand": sv.Demand, "served": sv.Served,
				"rejected": sv.Rejected, "queued": sv.Queued,
				"totals": map[string]any{"arrived": sv.Arrived, "admitted": sv.Admitted, "rejected": sv.RejectedTotal, "cancelled": sv.Cancelled},
			}
		}
		pool := map[string]any{
			"name": snap.Pool, "allocator": snap.Allocator, "capacity": snap.Capacity,
			"effective_capacity": snap.EffectiveCapacity, "window_limit": snap.WindowLimit,
			"upstream_429": snap.Upstream429, "paused_for_seconds": snap.PausedFor.Seconds(),
			"queued": snap.Queued, "services": svcs,
		}
		if c := g.tpsLeaseView(name); c != nil {
			pool["cluster"] = c
		}
		if l := s.tps[name].learned; l != nil {
			pool["learned"] = learnedView(l.Status(), snap.Services)
		}
		pools = append(pools, pool)
	}
	writeJSON(w, 200, map[string]any{"pools": pools})
}

// learnedView is the learned allocator's last decision as GET /tps shows it: per service,
// what the policy allocated (or would have, in shadow mode), what waterfill allocated, and
// what a retrained model in burn-in would allocate; then which one is enforced and why.
func learnedView(st rl.Status, svcs []tps.ServiceSnapshot) map[string]any {
	per := func(v []float64) map[string]float64 {
		if len(v) != len(svcs) {
			return nil
		}
		m := make(map[string]float64, len(v))
		for i, sv := range svcs {
			m[sv.Name] = v[i]
		}
		return m
	}
	enforced := "learned"
	if st.Enforced != rl.FallbackNone {
		enforced = "waterfill"
	}
	return map[string]any{
		"enforced": enforced, "fallback_reason": string(st.Enforced),
		"learned": per(st.Learned), "waterfill": per(st.Base),
		"forecast_error": st.ForecastError, "drift": st.Drift, "fallbacks": st.Fallbacks,
		"retraining": st.Retraining, "candidate": per(st.Candidate), "burn_in_left": st.BurnInLeft,
		"retrained": st.Retrained, "rejected_in_burn_in": st.RejectedInBurn, "retrain_failures": st.RetrainFailures,
	}
}
