package analytics

import (
	"net/netip"
	"time"

	"aya/internal/observe"
)

// The text fields of a kept request and how many bytes of each are kept. A Record's strings may
// point into a connection's buffer, so an entry copies them into its own array: no allocation,
// and nothing of the connection outlives the request. Longer values are cut (Request.Truncated).
const (
	fID = iota
	fListener
	fRoute
	fUpstream
	fTarget
	fConsumer
	fMethod
	fHost
	fPath
	fProto
	fUserAgent
	fError
	nFields
)

var fieldMax = [nFields]int{
	fID: 128, fListener: 32, fRoute: 64, fUpstream: 64, fTarget: 96, fConsumer: 64,
	fMethod: 16, fHost: 96, fPath: 256, fProto: 16, fUserAgent: 128, fError: 160,
}

// textSize is the sum of fieldMax (checked by a test): the fields of one request, written
// back to back, always fit. Back to back rather than at fixed offsets, so that a typical
// request touches a few cache lines of its slot instead of one per field.
const textSize = 1120

// entry is one request in the ring.
type entry struct {
	seq       uint64 // 0: never written
	start     int64  // unix nanoseconds
	status    int32
	retries   int32
	bytesIn   int64
	bytesOut  int64
	dur       time.Duration
	upstream  time.Duration
	ttfb      time.Duration
	clientIP  netip.Addr
	truncated bool
	end       [nFields]uint16 // where each field ends in text; it starts where the previous ends
	text      [textSize]byte
}

func (e *entry) fill(seq uint64, r *observe.Record) {
	e.seq = seq
	e.start = 0
	if !r.Start.IsZero() {
		e.start = r.Start.UnixNano()
	}
	e.status = int32(r.Status)
	e.retries = int32(r.Retries)
	e.bytesIn, e.bytesOut = r.BytesIn, r.BytesOut
	e.dur, e.upstream, e.ttfb = r.Duration, r.UpstreamTime, r.TTFB
	e.clientIP = r.ClientIP
	e.truncated = false
	pos := 0
	e.set(&pos, fID, r.ID)
	e.set(&pos, fListener, r.Listener)
	e.set(&pos, fRoute, r.Route)
	e.set(&pos, fUpstream, r.Upstream)
	e.set(&pos, fTarget, r.Target)
	e.set(&pos, fConsumer, r.Consumer)
	e.set(&pos, fMethod, r.Method)
	e.set(&pos, fHost, r.Host)
	e.set(&pos, fPath, r.Path)
	e.set(&pos, fProto, r.Proto)
	e.set(&pos, fUserAgent, r.UserAgent)
	e.set(&pos, fError, r.Error)
}

func (e *entry) set(pos *int, f int, s string) {
	if len(s) > fieldMax[f] {
		s = s[:fieldMax[f]]
		e.truncated = true
	}
	*pos += copy(e.text[*pos:], s)
	e.end[f] = uint16(*pos)
}

// get returns a field as bytes of the entry: compare it, or copy it with string().
func (e *entry) get(f int) []byte {
	start := 0
	if f > 0 {
		start = int(e.end[f-1])
	}
	return e.text[start:e.end[f]]
}

// Request is one recent request as the admin API shows it. Durations are in seconds.
type Request struct {
	Seq          uint64    `json:"seq"`
	ID           string    `json:"id"`
	Time         time.Time `json:"time"`
	Listener     string    `json:"listener"`
	Route        string    `json:"route"`
	Upstream     string    `json:"upstream"`
	Target       string    `json:"target"`
	Consumer     string    `json:"consumer"`
	Method       string    `json:"method"`
	Host         string    `json:"host"`
	Path         string    `json:"path"`
	Proto        string    `json:"proto"`
	Status       int       `json:"status"`
	BytesIn      int64     `json:"bytes_in"`
	BytesOut     int64     `json:"bytes_out"`
	Duration     float64   `json:"duration"`
	UpstreamTime float64   `json:"upstream_time"`
	TTFB         float64   `json:"ttfb"`
	ClientIP     string    `json:"client_ip"`
	UserAgent    string    `json:"user_agent"`
	Retries      int       `json:"retries"`
	Error        string    `json:"error,omitempty"`
	// Truncated says a text field was longer than the store keeps and was cut.
	Truncated bool `json:"truncated,omitempty"`
}

func (e *entry) request() Request {
	r := Request{
		Seq: e.seq, ID: string(e.get(fID)),
		Listener: string(e.get(fListener)), Route: string(e.get(fRoute)),
		Upstream: string(e.get(fUpstream)), Target: string(e.get(fTarget)),
		Consumer: string(e.get(fConsumer)), Method: string(e.get(fMethod)),
		Host: string(e.get(fHost)), Path: string(e.get(fPath)), Proto: string(e.get(fProto)),
		Status: int(e.status), BytesIn: e.bytesIn, BytesOut: e.bytesOut,
		Duration: e.dur.Seconds(), UpstreamTime: e.upstream.Seconds(), TTFB: e.ttfb.Seconds(),
		UserAgent: string(e.get(fUserAgent)), Retries: int(e.retries), Error: string(e.get(fError)),
		Truncated: e.truncated,
	}
	if e.start != 0 {
		r.Time = time.Unix(0, e.start).UTC()
	}
	if e.clientIP.IsValid() {
		r.ClientIP = e.clientIP.String()
	}
	return r
}
