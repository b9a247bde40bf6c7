package gateway

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
)

// otlpReceiver is an in-process OTLP/gRPC trace collector.
type otlpReceiver struct {
	coltrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (r *otlpReceiver) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func (r *otlpReceiver) trace(id []byte) []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range r.spans {
		if string(s.TraceId) == string(id) {
			out = append(out, s)
		}
	}
	return out
}

func spanAttr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			if s := kv.Value.GetStringValue(); s != "" {
				return s
			}
			return fmt.Sprint(kv.Value.GetIntValue())
		}
	}
	return ""
}

func TestTracingThroughTheProxy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rcv := &otlpReceiver{}
	srv := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(srv, rcv)
	go srv.Serve(ln)
	defer srv.Stop()

	var seen sync.Map // traceparent the backend received, by the request id
	be := httpBackend(t, func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.Header.Get("X-Request-ID"), r.Header.Get("traceparent"))
		io.WriteString(w, "ok")
	})
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadURL := "http://" + dead.Addr().String()
	dead.Close()

	g, _ := testGateway(t, `listeners: [{name: web, address: "127.0.0.1:0"}]
admin: {address: "127.0.0.1:0"}
upstreams:
  - name: u
    targets: ["`+deadURL+`", "{{BACKEND}}"]
    retries: {attempts: 1, on: [connect_error]}
routes:
  - {name: api, match: {path: "/api/*"}, upstream: u}
access_log: {enabled: false}
tracing: {endpoint: "http://`+ln.Addr().String()+`", flush_interval: 50ms}
`, be)

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	for i := range 2 {
		req, _ := http.NewRequest("GET", "http://"+g.Addr("web")+"/api/x", nil)
		req.Header.Set("traceparent", fmt.Sprintf("00-%s-00f067aa0ba9020%d-01", traceID, i))
		req.Header.Set("X-Request-ID", fmt.Sprintf("r%d", i))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	id, _ := hex.DecodeString(traceID)
	var spans []*tracepb.Span
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if spans = rcv.trace(id); len(spans) >= 5 { // 2 server spans and 3 or 4 tries
			time.Sleep(100 * time.Millisecond)
			spans = rcv.trace(id)
			break
		}
	}
	servers := map[string]*tracepb.Span{}
	for _, s := range spans {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			servers[string(s.SpanId)] = s
		}
	}
	if len(servers) != 2 {
		t.Fatalf("%d server spans", len(servers))
	}
	var b strings.Builder
	retried := 0
	for _, srvSpan := range servers {
		fmt.Fprintf(&b, "%s [server] request_id=%s status=%s retries=%s\n", srvSpan.Name, spanAttr(srvSpan, "aya.request_id"),
			spanAttr(srvSpan, "http.response.status_code"), spanAttr(srvSpan, "aya.retries"))
		var tries []*tracepb.Span
		for _, s := range spans {
			if string(s.ParentSpanId) == string(srvSpan.SpanId) {
				tries = append(tries, s)
			}
		}
		for _, s := range tries {
			fmt.Fprintf(&b, "  %s [client] try=%s target=%s status=%s error=%v\n", s.Name, spanAttr(s, "aya.try"), spanAttr(s, "aya.target"),
				spanAttr(s, "http.response.status_code"), s.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR)
			if s.Kind != tracepb.Span_SPAN_KIND_CLIENT || s.Name != "GET u" {
				t.Errorf("try span %v", s)
			}
		}
		rid := spanAttr(srvSpan, "aya.request_id")
		if len(tries) == 2 {
			retried++
			if spanAttr(tries[0], "aya.target") == spanAttr(tries[1], "aya.target") {
				t.Error("the retry went to the same target")
			}
		}
		// The backend saw the answering try's span as its parent.
		last := tries[len(tries)-1]
		got, _ := seen.Load(rid)
		if want := fmt.Sprintf("00-%s-%x-01", traceID, last.SpanId); got != want {
			t.Errorf("%s: backend got traceparent %v, want %s", rid, got, want)
		}
		if srvSpan.Name != "GET api" || spanAttr(srvSpan, "http.response.status_code") != "200" {
			t.Errorf("server span %v", srvSpan)
		}
	}
	t.Logf("trace tree:\n%s", b.String())
	if retried == 0 || len(spans) != 2+2+retried {
		t.Fatalf("%d spans, %d requests retried; round robin over a dead and a live target retries at least one", len(spans), retried)
	}
}

// httpBackend is backend with a handler of the test's own.
func httpBackend(t *testing.T, h http.HandlerFunc) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}
