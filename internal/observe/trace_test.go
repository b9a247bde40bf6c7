package observe

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"aya/internal/httpx"
)

// receiver is an in-process OTLP trace collector: what the exporter sends is what it keeps.
type receiver struct {
	coltrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (r *receiver) Export(_ context.Context, req *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	r.add(req)
	return &coltrace.ExportTraceServiceResponse{}, nil
}

func (r *receiver) add(req *coltrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			r.spans = append(r.spans, ss.Spans...)
		}
	}
}

func (r *receiver) wait(t *testing.T, n int) []*tracepb.Span {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		got := append([]*tracepb.Span(nil), r.spans...)
		r.mu.Unlock()
		if len(got) >= n {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("receiver got fewer than %d spans", n)
	return nil
}

func startGRPCReceiver(t *testing.T) (*receiver, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rcv := &receiver{}
	srv := grpc.NewServer()
	coltrace.RegisterTraceServiceServer(srv, rcv)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	return rcv, "http://" + ln.Addr().String()
}

func startHTTPReceiver(t *testing.T) (*receiver, string) {
	t.Helper()
	rcv := &receiver{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltrace.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", 400)
			return
		}
		rcv.add(&req)
		out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(out)
	}))
	t.Cleanup(srv.Close)
	return rcv, srv.URL + "/v1/traces"
}

func attr(s *tracepb.Span, key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return anyValue(kv.Value)
		}
	}
	return ""
}

func anyValue(v *commonpb.AnyValue) string {
	switch x := v.Value.(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return fmt.Sprint(x.IntValue)
	}
	return v.String()
}

// TraceTree prints spans as an indented tree, children under parents, for test logs.
func traceTree(spans []*tracepb.Span) string {
	byParent := map[string][]*tracepb.Span{}
	ids := map[string]bool{}
	for _, s := range spans {
		ids[hex.EncodeToString(s.SpanId)] = true
	}
	for _, s := range spans {
		p := hex.EncodeToString(s.ParentSpanId)
		if !ids[p] {
			p = "root"
		}
		byParent[p] = append(byParent[p], s)
	}
	var b strings.Builder
	var walk func(key string, depth int)
	walk = func(key string, depth int) {
		kids := byParent[key]
		sort.Slice(kids, func(i, j int) bool { return kids[i].StartTimeUnixNano < kids[j].StartTimeUnixNano })
		for _, s := range kids {
			fmt.Fprintf(&b, "%s%s [%s] trace=%x span=%x status=%s", strings.Repeat("  ", depth), s.Name,
				strings.TrimPrefix(s.Kind.String(), "SPAN_KIND_"), s.TraceId, s.SpanId, attr(s, "http.response.status_code"))
			for _, k := range []string{"aya.route", "aya.target", "aya.try", "http.request.resend_count"} {
				if v := attr(s, k); v != "" {
					fmt.Fprintf(&b, " %s=%s", k, v)
				}
			}
			b.WriteByte('\n')
			walk(hex.EncodeToString(s.SpanId), depth+1)
		}
	}
	walk("root", 0)
	return b.String()
}

func TestTracerSpanTree(t *testing.T) {
	for _, protocol := range []string{ProtocolGRPC, ProtocolHTTP} {
		t.Run(protocol, func(t *testing.T) {
			var rcv *receiver
			var endpoint string
			if protocol == ProtocolGRPC {
				rcv, endpoint = startGRPCReceiver(t)
			} else {
				rcv, endpoint = startHTTPReceiver(t)
			}
			tr, err := NewTracer(context.Background(), TraceOptions{Endpoint: endpoint, Protocol: protocol, Sample: 1, FlushInterval: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
			r := &httpx.Request{Method: "GET", Path: "/v1/x", Host: "api", Proto: "HTTP/1.1", ID: "rid-1",
				Header: httpx.Header{{Name: "Traceparent", Value: parent}, {Name: "User-Agent", Value: "test"}}}
			ctx, server := tr.StartServer(context.Background(), r, "api")

			var sent []string
			for try, status := range []int{502, 200} {
				out := &httpx.Request{Method: "GET", Path: "/x", Header: httpx.Header{{Name: "traceparent", Value: parent}}}
				span := tr.StartTry(ctx, out, "users", "http://10.0.0.1:9000", try)
				if out.Header.Count("traceparent") != 1 {
					t.Fatalf("outgoing header %v", out.Header)
				}
				sent = append(sent, out.Header.Get("traceparent"))
				var err error
				if status == 502 {
					err = errors.New("connection refused")
				}
				EndTry(span, status, err)
			}
			EndServer(server, &Record{Status: 200, Upstream: "users", Target: "http://10.0.0.1:9000", Retries: 1})
			if err := tr.Shutdown(context.Background()); err != nil {
				t.Fatal(err)
			}

			spans := rcv.wait(t, 3)
			t.Logf("trace tree:\n%s", traceTree(spans))
			if len(spans) != 3 {
				t.Fatalf("%d spans", len(spans))
			}
			var srv *tracepb.Span
			var tries []*tracepb.Span
			for _, s := range spans {
				if hex.EncodeToString(s.TraceId) != "4bf92f3577b34da6a3ce929d0e0e4736" {
					t.Fatalf("span %q is not in the client's trace: %x", s.Name, s.TraceId)
				}
				if s.Kind == tracepb.Span_SPAN_KIND_SERVER {
					srv = s
				} else {
					tries = append(tries, s)
				}
			}
			if srv == nil || srv.Name != "GET api" || hex.EncodeToString(srv.ParentSpanId) != "00f067aa0ba902b7" {
				t.Fatalf("server span %v", srv)
			}
			if attr(srv, "aya.request_id") != "rid-1" || attr(srv, "http.response.status_code") != "200" || attr(srv, "aya.retries") != "1" {
				t.Fatalf("server span attributes %v", srv.Attributes)
			}
			sort.Slice(tries, func(i, j int) bool { return attr(tries[i], "aya.try") < attr(tries[j], "aya.try") })
			for i, s := range tries {
				if string(s.ParentSpanId) != string(srv.SpanId) || s.Kind != tracepb.Span_SPAN_KIND_CLIENT || s.Name != "GET users" {
					t.Fatalf("try %d: %v", i, s)
				}
				if attr(s, "aya.try") != fmt.Sprint(i) || attr(s, "aya.target") != "http://10.0.0.1:9000" {
					t.Fatalf("try %d attributes %v", i, s.Attributes)
				}
				// The upstream saw this try's span as its parent.
				if want := fmt.Sprintf("00-%x-%x-01", s.TraceId, s.SpanId); sent[i] != want {
					t.Fatalf("try %d sent traceparent %s, want %s", i, sent[i], want)
				}
			}
			if tries[0].Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR || attr(tries[1], "http.request.resend_count") != "1" {
				t.Fatalf("try outcomes: %v / %v", tries[0].Status, tries[1].Attributes)
			}
		})
	}
}

func TestTracerSamplesNewTraces(t *testing.T) {
	rcv, endpoint := startGRPCReceiver(t)
	tr, err := NewTracer(context.Background(), TraceOptions{Endpoint: endpoint, Sample: 0, FlushInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r := &httpx.Request{Method: "GET", Path: "/"}
	ctx, s := tr.StartServer(context.Background(), r, "api")
	out := &httpx.Request{Method: "GET"}
	EndTry(tr.StartTry(ctx, out, "u", "http://t", 0), 200, nil)
	EndServer(s, &Record{Status: 200})
	// Not sampled: nothing recorded, but the trace context still travels (flag 00).
	if tp := out.Header.Get("traceparent"); !strings.HasSuffix(tp, "-00") || len(tp) != 55 {
		t.Fatalf("traceparent %q", tp)
	}
	// A sampled parent wins over the ratio.
	r.Header = httpx.Header{{Name: "traceparent", Value: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}}
	_, s = tr.StartServer(context.Background(), r, "api")
	EndServer(s, &Record{Status: 200})
	tr.Shutdown(context.Background())
	if spans := rcv.wait(t, 1); len(spans) != 1 {
		t.Fatalf("%d spans exported, want only the one with a sampled parent", len(spans))
	}
}

func TestTraceOptionsErrors(t *testing.T) {
	for _, o := range []TraceOptions{{Endpoint: "127.0.0.1:4317"}, {Endpoint: "http://x:1", Protocol: "udp"}, {Endpoint: "http://x:1", Sample: 1.5}} {
		if _, err := NewTracer(context.Background(), o); err == nil {
			t.Errorf("%+v: want an error", o)
		}
	}
}

// BenchmarkTraceRequest is the cost of tracing one request with one try, recorded (sample 1)
// and not (sample 0). With tracing off the gateway never calls the tracer at all.
func BenchmarkTraceRequest(b *testing.B) {
	for _, sample := range []float64{1, 0} {
		b.Run(fmt.Sprintf("sample=%v", sample), func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := grpc.NewServer()
			coltrace.RegisterTraceServiceServer(srv, &discardReceiver{})
			go srv.Serve(ln)
			defer srv.Stop()
			tr, err := NewTracer(context.Background(), TraceOptions{Endpoint: "http://" + ln.Addr().String(), Sample: sample})
			if err != nil {
				b.Fatal(err)
			}
			defer tr.Shutdown(context.Background())
			r := &httpx.Request{Method: "GET", Path: "/v1/x", Host: "api", Proto: "HTTP/1.1", ID: "rid",
				Header: httpx.Header{{Name: "User-Agent", Value: "bench"}}}
			out := &httpx.Request{Method: "GET", Path: "/x", Header: make(httpx.Header, 0, 8)}
			rec := &Record{Status: 200}
			b.ReportAllocs()
			for b.Loop() {
				out.Header = out.Header[:0]
				ctx, s := tr.StartServer(context.Background(), r, "api")
				EndTry(tr.StartTry(ctx, out, "users", "http://10.0.0.1:9000", 0), 200, nil)
				EndServer(s, rec)
			}
		})
	}
}

type discardReceiver struct {
	coltrace.UnimplementedTraceServiceServer
}

func (discardReceiver) Export(context.Context, *coltrace.ExportTraceServiceRequest) (*coltrace.ExportTraceServiceResponse, error) {
	return &coltrace.ExportTraceServiceResponse{}, nil
}
