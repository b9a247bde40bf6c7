package test

import (
	"context"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
)

// otlpCollector is an OTLP/gRPC trace receiver the test runs itself.
type otlpCollector struct {
	coltrace.UnimplementedTraceServiceServer
	mu       sync.Mutex
	spans    []*tracepb.Span
	services []string
}

func (c *otlpCollector) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, a := range rs.GetResource().GetAttributes() {
			if a.Key == "service.name" {
				c.services = append(c.services, a.Value.GetStringValue())
			}
		}
		for _, ss := range rs.ScopeSpans {
			c.spans = append(c.spans, ss.Spans...)
		}
	}
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func (c *otlpCollector) inTrace(id string) []*tracepb.Span {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range c.spans {
		if hex.EncodeToString(s.TraceId) == id {
			out = append(out, s)
		}
	}
	return out
}

func attrOf(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			if v := kv.Value.GetStringValue(); v != "" {
				return v
			}
			return fmt.Sprint(kv.Value.GetIntValue())
		}
	}
	return ""
}

// TestTracingSpanTree runs aya with tracing to a collector the test starts, sends a request
// that carries a W3C traceparent to a route with a target that is down, and checks the tree:
// one server span continuing the client's trace, one client span per try with the try number
// and target, the failed try marked as an error, and the backend seeing the answering try.
func TestTracingSpanTree(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	col := &otlpCollector{}
	srv := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(srv, col)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)

	be := backends(t, 1)
	dead := freePort(t)
	web := freePort(t)
	startAya(t, fmt.Sprintf(`listeners: [{name: web, address: "%s"}]
admin: {address: "{{ADMIN}}"}
upstreams:
  - name: app
    balance: round_robin
    targets: ["http://%s", "http://%s"]
    retries: {attempts: 1, on: [connect_error]}
routes: [{name: api, match: {path: "/api/*"}, upstream: app, strip_prefix: /api}]
access_log: {enabled: false}
tracing: {endpoint: "http://%s", service_name: aya-e2e, flush_interval: 100ms}
`, web, dead, be[0], ln.Addr()))

	const traceID = "0af7651916cd43dd8448eb211c80319c"
	var echoed []echo
	for i := range 2 {
		req, _ := http.NewRequest("GET", "http://"+web+"/api/hello", nil)
		req.Header.Set("traceparent", fmt.Sprintf("00-%s-b7ad6b716920333%d-01", traceID, i))
		resp, err := client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e echo
		if err := jsonDecode(resp, &e); err != nil || resp.StatusCode != 200 {
			t.Fatalf("status %d: %v", resp.StatusCode, err)
		}
		echoed = append(echoed, e)
	}

	var spans []*tracepb.Span
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if spans = col.inTrace(traceID); len(spans) >= 5 { // 2 server spans, 3 or 4 tries
			break
		}
	}
	time.Sleep(200 * time.Millisecond)
	spans = col.inTrace(traceID)
	byID := map[string]*tracepb.Span{}
	for _, s := range spans {
		byID[string(s.SpanId)] = s
	}
	var tree strings.Builder
	var servers []*tracepb.Span
	for _, s := range spans {
		if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
			servers = append(servers, s)
		}
	}
	sort.Slice(servers, func(i, j int) bool { return servers[i].StartTimeUnixNano < servers[j].StartTimeUnixNano })
	retried := 0
	for i, s := range servers {
		fmt.Fprintf(&tree, "%s [server] parent=%x status=%s retries=%s\n", s.Name, s.ParentSpanId, attrOf(s, "http.response.status_code"), attrOf(s, "aya.retries"))
		if want := fmt.Sprintf("b7ad6b716920333%d", i); hex.EncodeToString(s.ParentSpanId) != want {
			t.Errorf("server span %d continues %x, want the client's span %s", i, s.ParentSpanId, want)
		}
		if s.Name != "GET api" || attrOf(s, "aya.route") != "api" || attrOf(s, "url.path") != "/api/hello" {
			t.Errorf("server span %v", s)
		}
		var tries []*tracepb.Span
		for _, c := range spans {
			if string(c.ParentSpanId) == string(s.SpanId) {
				tries = append(tries, c)
			}
		}
		sort.Slice(tries, func(a, b int) bool { return attrOf(tries[a], "aya.try") < attrOf(tries[b], "aya.try") })
		for j, c := range tries {
			failed := c.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR
			fmt.Fprintf(&tree, "  %s [client] try=%s target=%s status=%s error=%v\n", c.Name, attrOf(c, "aya.try"), attrOf(c, "aya.target"), attrOf(c, "http.response.status_code"), failed)
			if c.Kind != tracepb.Span_SPAN_KIND_CLIENT || attrOf(c, "aya.try") != fmt.Sprint(j) || attrOf(c, "aya.upstream") != "app" {
				t.Errorf("try span %v", c)
			}
			last := j == len(tries)-1
			if failed == last || (attrOf(c, "aya.target") == "http://"+dead) != !last {
				t.Errorf("try %d: failed=%v target=%s", j, failed, attrOf(c, "aya.target"))
			}
		}
		if len(tries) == 2 {
			retried++
		}
		// The backend saw a traceparent naming the answering try as its parent.
		got := echoed[i].Headers["Traceparent"]
		if len(tries) == 0 || len(got) != 1 || got[0] != fmt.Sprintf("00-%s-%x-01", traceID, tries[len(tries)-1].SpanId) {
			t.Errorf("request %d: backend got traceparent %v", i, got)
		}
	}
	t.Logf("trace tree:\n%s", tree.String())
	if len(servers) != 2 || retried == 0 || len(spans) != 4+retried {
		t.Fatalf("%d server spans, %d retried, %d spans: want 2, at least 1 (round robin sends a request to the dead target first) and 4 + retried", len(servers), retried, len(spans))
	}
	col.mu.Lock()
	defer col.mu.Unlock()
	if len(col.services) == 0 || col.services[0] != "aya-e2e" {
		t.Errorf("service.name %v", col.services)
	}
}
