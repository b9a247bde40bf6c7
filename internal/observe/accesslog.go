package observe

import (
	"fmt"
	"io"
	"math/rand/v2"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// AccessLogOptions configure an AccessLog.
type AccessLogOptions struct {
	Format string    // FormatJSON (default) or FormatCommon
	Output io.Writer // where lines go; the caller keeps ownership (and closes it)
	// Sample is the share of requests logged, in (0, 1]; 0 means 1. Requests that failed
	// (status 5xx, or an error of aya's own) are always logged.
	Sample float64
	// Buffer bounds the bytes waiting for Output; lines that do not fit are dropped and
	// counted. Default 4 MiB: at 100k requests a second that is about 100 ms of lines, room
	// for the writer to be scheduled late on a busy machine.
	Buffer int
	// Dropped counts dropped lines (may be nil).
	Dropped prometheus.Counter
}

// AccessLog is a Sink that writes one line per request. Record formats the line on the
// request path into a pooled buffer and queues it; a goroutine of its own writes queued lines
// in batches, so requests never wait for the output.
type AccessLog struct {
	json   bool
	sample float64
	w      *asyncWriter
	bufs   sync.Pool
}

// NewAccessLog starts an access log. Close it to flush and stop it.
func NewAccessLog(o AccessLogOptions) (*AccessLog, error) {
	if o.Output == nil {
		return nil, fmt.Errorf("access log: no output")
	}
	l := &AccessLog{sample: o.Sample}
	switch o.Format {
	case "", FormatJSON:
		l.json = true
	case FormatCommon:
	default:
		return nil, fmt.Errorf("access log: unknown format %q: use %s or %s", o.Format, FormatJSON, FormatCommon)
	}
	if o.Sample < 0 || o.Sample > 1 {
		return nil, fmt.Errorf("access log: sample %v out of range: use a share from 0 to 1", o.Sample)
	}
	if l.sample == 0 {
		l.sample = 1
	}
	limit := o.Buffer
	if limit <= 0 {
		limit = 4 << 20
	}
	l.w = newAsyncWriter(o.Output, limit, o.Dropped)
	l.bufs.New = func() any { b := make([]byte, 0, 512); return &b }
	return l, nil
}

// Record logs r (or skips it, by sampling). It never blocks on the output.
func (l *AccessLog) Record(r *Record) {
	if l.sample < 1 && r.Status < 500 && r.Error == "" && rand.Float64() >= l.sample {
		return
	}
	bp := l.bufs.Get().(*[]byte)
	b := (*bp)[:0]
	if l.json {
		b = appendJSON(b, r)
	} else {
		b = appendCommon(b, r)
	}
	l.w.write(b)
	if cap(b) <= 16<<10 { // one huge line must not pin a huge buffer in the pool
		*bp = b
		l.bufs.Put(bp)
	}
}

// Dropped reports how many lines were lost to a full buffer or a failed write.
func (l *AccessLog) Dropped() uint64 { return l.w.dropped.Load() }

// Sync waits until every line logged so far reached the output.
func (l *AccessLog) Sync() { l.w.sync() }

// Close writes the queued lines and stops the log. Records after Close are dropped.
func (l *AccessLog) Close() { l.w.close() }
