// Package observe turns what happens to each request into metrics, access logs, traces and
// the analytics the admin API and dashboard query. It must not know about routing, proxying
// or config files: the gateway fills a Record per request and hands it to the sinks.
package observe

import (
	"net/netip"
	"time"
)

// Record is one finished request, as every sink sees it. The gateway fills it from a pooled
// value; a sink must copy what it keeps (strings may point into connection buffers, see
// internal/httpx), and must not block: Record runs on the request path.
type Record struct {
	Start        time.Time
	ID           string // request id
	Listener     string
	Route        string // "" when no route matched
	Upstream     string
	Target       string // target URL that answered, "" when none was reached
	Consumer     string // authenticated consumer, "" when anonymous
	Method       string
	Host         string
	Path         string // raw path, without the query
	Proto        string
	Status       int
	BytesIn      int64         // request body bytes read
	BytesOut     int64         // response body bytes written
	Duration     time.Duration // whole request, as aya saw it
	UpstreamTime time.Duration // time spent in upstream exchanges
	TTFB         time.Duration // first response byte from the upstream
	ClientIP     netip.Addr
	UserAgent    string
	Retries      int
	Error        string // why aya answered with an error of its own, "" otherwise
}

// Sink receives finished requests.
type Sink interface {
	Record(r *Record)
}
