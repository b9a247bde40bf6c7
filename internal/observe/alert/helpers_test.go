package alert

import (
	"bytes"
	"log/slog"
	"sync"
	"time"

	"aya/internal/observe/analytics"
)

// fakeMetrics answers Summary from a table keyed by dimension, name and window.
type fakeMetrics struct {
	mu     sync.Mutex
	points map[string]analytics.Point
	routes []string
}

func (f *fakeMetrics) set(d analytics.Dimension, name string, window time.Duration, p analytics.Point) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.points == nil {
		f.points = map[string]analytics.Point{}
	}
	f.points[d.String()+"/"+name+"/"+window.String()] = p
}

func (f *fakeMetrics) Summary(d analytics.Dimension, name string, window time.Duration) analytics.Point {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.points[d.String()+"/"+name+"/"+window.String()]
}

func (f *fakeMetrics) Names(d analytics.Dimension) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.routes
}

// logBuffer collects an engine's log lines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, nil)), b
}

var t0 = time.Unix(1_700_000_000, 0)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
