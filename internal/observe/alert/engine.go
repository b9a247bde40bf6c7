package alert

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"aya/internal/observe/analytics"
)

// Metrics is the traffic the rules and the detector read: the analytics store.
type Metrics interface {
	Summary(d analytics.Dimension, name string, window time.Duration) analytics.Point
	Names(d analytics.Dimension) []string
}

// TargetHealth is one upstream target as the health rules see it.
type TargetHealth struct {
	Upstream string
	Target   string
	State    string // as GET /upstreams shows it
	Up       bool   // takes requests
	Reason   string // last error or ejection reason
}

// Options connect an Engine to what it watches. Nil sources disable the rules that need them.
type Options struct {
	Metrics Metrics
	Targets func() []TargetHealth
	// ReloadError returns why the last config reload was refused, "" after a good one.
	ReloadError func() string
	Logger      *slog.Logger
	Client      *http.Client // for webhooks; default: a client without redirects
}

// Alert is one alert as the log, the admin API, the dashboard and webhooks see it.
type Alert struct {
	Key       string    `json:"key"` // rule and subject: what dedupes it
	Rule      string    `json:"rule"`
	Type      string    `json:"type"`
	Severity  string    `json:"severity"`
	Subject   string    `json:"subject"`
	State     string    `json:"state"` // firing or resolved
	Message   string    `json:"message"`
	Value     float64   `json:"value"`
	Threshold float64   `json:"threshold"`
	StartsAt  time.Time `json:"starts_at"`
	UpdatedAt time.Time `json:"updated_at"`
	EndsAt    time.Time `json:"ends_at,omitzero"`
}

// Alert states.
const (
	Firing   = "firing"
	Resolved = "resolved"
)

// finding is a condition that holds now.
type finding struct {
	key, rule, typ, severity, subject, message string
	value, threshold                           float64
	hold                                       time.Duration // how long it must hold to fire
}

// tracked is a condition seen recently: pending until it has held for its rule's "for".
type tracked struct {
	since time.Time
	alert *Alert // nil while pending
}

// keepResolved is how many resolved alerts GET /alerts shows.
const keepResolved = 100

// Engine evaluates rules and the detector once a second and keeps alerts.
type Engine struct {
	o Options

	mu       sync.Mutex
	cfg      Config
	det      *detector
	tracked  map[string]*tracked
	resolved []Alert // newest last
	notify   *notifier
	ctx      context.Context // set by Run, for webhook workers
}

// New returns an engine for cfg. Nothing runs until Run.
func New(cfg Config, o Options) *Engine {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return &Engine{o: o, cfg: cfg, det: newDetector(cfg.Anomaly), tracked: map[string]*tracked{}, notify: newNotifier(cfg.Webhooks, o.Client, o.Logger)}
}

// SetConfig replaces the rules, webhooks and detector settings (on a config reload). Alerts of
// rules that still exist carry on; the detector keeps what it learned if its settings did not
// change.
func (e *Engine) SetConfig(cfg Config) {
	e.mu.Lock()
	old := e.notify
	if cfg.Anomaly != e.cfg.Anomaly {
		e.det = newDetector(cfg.Anomaly)
	}
	e.cfg = cfg
	e.notify = newNotifier(cfg.Webhooks, e.o.Client, e.o.Logger)
	if e.ctx != nil {
		e.notify.start(e.ctx)
	}
	e.mu.Unlock()
	old.close()
}

// Run evaluates once a second, just after the analytics store closed the second, until ctx
// is done.
func (e *Engine) Run(ctx context.Context) {
	e.mu.Lock()
	e.ctx = ctx
	e.notify.start(ctx)
	e.mu.Unlock()
	for {
		now := time.Now()
		next := now.Truncate(time.Second).Add(time.Second + 100*time.Millisecond)
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case now = <-t.C:
		}
		e.Evaluate(now)
	}
}

// Evaluate checks every rule and, when its interval has passed, the detector, then fires,
// updates and resolves alerts. Run calls it each second; tests call it with their own clock.
func (e *Engine) Evaluate(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	found := e.evalRules(now)
	if e.o.Metrics != nil {
		found = append(found, e.det.observe(now, e.o.Metrics)...)
	}
	seen := make(map[string]bool, len(found))
	for _, f := range found {
		seen[f.key] = true
		tr := e.tracked[f.key]
		if tr == nil {
			tr = &tracked{since: now}
			e.tracked[f.key] = tr
		}
		if tr.alert != nil {
			tr.alert.Value, tr.alert.Message, tr.alert.UpdatedAt = f.value, f.message, now
			continue
		}
		if now.Sub(tr.since) < f.hold {
			continue
		}
		tr.alert = &Alert{
			Key: f.key, Rule: f.rule, Type: f.typ, Severity: f.severity, Subject: f.subject,
			State: Firing, Message: f.message, Value: f.value, Threshold: f.threshold,
			StartsAt: now, UpdatedAt: now,
		}
		e.send(*tr.alert)
	}
	for key, tr := range e.tracked {
		if seen[key] {
			continue
		}
		delete(e.tracked, key)
		if tr.alert == nil {
			continue
		}
		a := *tr.alert
		a.State, a.EndsAt, a.UpdatedAt = Resolved, now, now
		e.resolved = append(e.resolved, a)
		if len(e.resolved) > keepResolved {
			e.resolved = slices.Delete(e.resolved, 0, len(e.resolved)-keepResolved)
		}
		e.send(a)
	}
}

// send logs an alert and queues it for the webhooks. Called with e.mu held.
func (e *Engine) send(a Alert) {
	level := slog.LevelWarn
	switch {
	case a.State == Resolved:
		level = slog.LevelInfo
	case a.Severity == "critical":
		level = slog.LevelError
	}
	e.o.Logger.Log(context.Background(), level, "alert "+a.State+": "+a.Message,
		"alert", a.Key, "rule", a.Rule, "type", a.Type, "severity", a.Severity, "value", a.Value, "threshold", a.Threshold)
	e.notify.enqueue(a)
}

// Firing returns the alerts firing now, most severe and then oldest first.
func (e *Engine) Firing() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := []Alert{}
	for _, tr := range e.tracked {
		if tr.alert != nil {
			out = append(out, *tr.alert)
		}
	}
	slices.SortFunc(out, func(a, b Alert) int {
		if c := severityRank(a.Severity) - severityRank(b.Severity); c != 0 {
			return c
		}
		if c := a.StartsAt.Compare(b.StartsAt); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	return out
}

// Resolved returns the last resolved alerts, newest first.
func (e *Engine) Resolved() []Alert {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Alert, len(e.resolved))
	for i, a := range e.resolved {
		out[len(out)-1-i] = a
	}
	return out
}

// Config returns the configuration in force.
func (e *Engine) Config() Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg
}

func severityRank(s string) int {
	switch s {
	case "critical":
		return 0
	case "warning":
		return 1
	}
	return 2
}
