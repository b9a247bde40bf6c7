package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// BackendHeader names the response header (and gRPC metadata key, lower-cased) that says which
// demo backend answered, so tests and demo users can see where the balancer sent a request.
const BackendHeader = "X-Demo-Backend"

// EchoOptions shape one echo server. The zero value is a fast, error-free server named "".
type EchoOptions struct {
	Name      string        // returned in the X-Demo-Backend header on every response
	Latency   time.Duration // added before every request except /healthz
	Jitter    time.Duration // up to this much more, drawn uniformly per request
	ErrorRate float64       // 0..1: fraction of requests answered 500 (never /healthz)
	Seed      uint64        // seeds the server's own PRNG, so a test sees the same fault sequence each run
}

// EchoReply is the JSON body of the default endpoint: what the backend saw of the request.
type EchoReply struct {
	Backend    string      `json:"backend"`
	Method     string      `json:"method"`
	Path       string      `json:"path"`
	Query      string      `json:"query"`
	Host       string      `json:"host"`
	Proto      string      `json:"proto"`
	RemoteAddr string      `json:"remote_addr"`
	Headers    http.Header `json:"headers"`
	BodyBytes  int64       `json:"body_bytes"`
}

// UploadReply is the JSON body of /upload.
type UploadReply struct {
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

type echoServer struct {
	name   string
	faults *faults
}

// NewEcho returns the echo handler. Endpoints (all answer with X-Demo-Backend):
//
//	/                      JSON EchoReply of the request (any path not listed below)
//	/healthz               200 "ok", exempt from injected latency and errors
//	/headers               JSON of the request headers, Host included
//	/trailers?n=64         n pattern bytes, then the HTTP trailer X-Checksum: hex sha256 of them
//	/sse?n=5&interval=100ms  n Server-Sent Events `data: {"i":k}`, flushed one per interval
//	/chunked?n=3&interval=100ms&size=10  n chunks of size pattern bytes, flushed one per interval
//	/bytes?n=1048576       n pattern bytes (see Pattern) with Content-Length
//	/upload                JSON UploadReply: body length and sha256
//	/ws                    WebSocket echo of text and binary messages
//	/status/{code}         EchoReply with that status
//	/delay/{duration}      EchoReply after sleeping that long
//
// On any path, ?latency=200ms replaces the configured latency and ?status=503 answers with that
// status and an EchoReply instead of the endpoint.
func NewEcho(opts EchoOptions) http.Handler {
	return &echoServer{name: opts.Name, faults: newFaults(opts)}
}

func (s *echoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set(BackendHeader, s.name)
	// Health checks see the process, not the injected faults: that way a demo shows active
	// health checks staying green while passive outlier detection reacts to the errors.
	if r.URL.Path == "/healthz" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
		return
	}
	q := r.URL.Query()
	if s.injectFaults(w, r, q) {
		return
	}
	s.route(w, r, q)
}

// injectFaults applies latency, random errors and the ?status override; it reports whether it
// has answered the request (or the client has gone).
func (s *echoServer) injectFaults(w http.ResponseWriter, r *http.Request, q url.Values) bool {
	d, fail := s.faults.draw()
	d, err := durationParam(q, "latency", d)
	if err != nil {
		s.replyError(w, http.StatusBadRequest, err)
		return true
	}
	if sleep(r, d) != nil {
		return true
	}
	if fail {
		s.replyError(w, http.StatusInternalServerError, fmt.Errorf("injected error (error rate %g)", s.faults.errorRate))
		return true
	}
	if !q.Has("status") {
		return false
	}
	code, err := parseStatus(q.Get("status"))
	if err != nil {
		s.replyError(w, http.StatusBadRequest, err)
		return true
	}
	s.echo(w, r, code)
	return true
}

func (s *echoServer) route(w http.ResponseWriter, r *http.Request, q url.Values) {
	var err error
	switch p := r.URL.Path; {
	case p == "/headers":
		h := r.Header.Clone()
		h.Set("Host", r.Host)
		writeJSON(w, http.StatusOK, h)
	case p == "/trailers":
		err = s.trailers(w, q)
	case p == "/sse":
		err = s.sse(w, r, q)
	case p == "/chunked":
		err = s.chunked(w, r, q)
	case p == "/bytes":
		err = s.bytes(w, q)
	case p == "/upload":
		s.upload(w, r)
	case p == "/ws":
		s.websocket(w, r)
	case strings.HasPrefix(p, "/status/"):
		var code int
		if code, err = parseStatus(strings.TrimPrefix(p, "/status/")); err == nil {
			s.echo(w, r, code)
		}
	case strings.HasPrefix(p, "/delay/"):
		var d time.Duration
		if d, err = parseDelay("delay", strings.TrimPrefix(p, "/delay/")); err == nil && sleep(r, d) == nil {
			s.echo(w, r, http.StatusOK)
		}
	default:
		s.echo(w, r, http.StatusOK)
	}
	if err != nil {
		s.replyError(w, http.StatusBadRequest, err)
	}
}

// echo reads the whole request body (so uploads through a proxy complete) and describes the request.
func (s *echoServer) echo(w http.ResponseWriter, r *http.Request, code int) {
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		s.replyError(w, http.StatusBadRequest, fmt.Errorf("read request body after %d bytes: %w", n, err))
		return
	}
	writeJSON(w, code, EchoReply{
		Backend:    s.name,
		Method:     r.Method,
		Path:       r.URL.Path,
		Query:      r.URL.RawQuery,
		Host:       r.Host,
		Proto:      r.Proto,
		RemoteAddr: r.RemoteAddr,
		Headers:    r.Header,
		BodyBytes:  n,
	})
}

func (s *echoServer) replyError(w http.ResponseWriter, code int, err error) {
	writeJSON(w, code, map[string]string{"backend": s.name, "error": err.Error()})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if code == http.StatusNoContent || code == http.StatusNotModified {
		return
	}
	// The status line is already out; an encoding error can only be a vanished client.
	_ = json.NewEncoder(w).Encode(v)
}

// sleep waits d or until the request is abandoned, whichever comes first.
func sleep(r *http.Request, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-r.Context().Done():
		return r.Context().Err()
	}
}
