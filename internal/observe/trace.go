package observe

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"aya/internal/httpx"
)

// OTLP transports for TraceOptions.Protocol.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http"
)

// TraceOptions configure a Tracer.
type TraceOptions struct {
	// Endpoint is the collector's URL: http://host:4317 (plain) or https://host:4317 for
	// gRPC; for HTTP the same with the path, default /v1/traces.
	Endpoint string
	Protocol string            // ProtocolGRPC (default) or ProtocolHTTP
	Headers  map[string]string // sent with every export (an API key, say)
	// Sample is the share of new traces recorded, in [0, 1]. A request that arrives with a
	// trace context follows its parent's decision.
	Sample        float64
	ServiceName   string        // default "aya"
	Timeout       time.Duration // per export; default 10s
	FlushInterval time.Duration // longest a finished span waits to be sent; default 5s
}

// Tracer makes aya's spans: one server span per request, with one client span per try of the
// upstream exchange, exported over OTLP. Trace context travels in W3C traceparent and
// tracestate headers, read from the client and written to the upstream.
type Tracer struct {
	tp     *sdktrace.TracerProvider
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
}

// NewTracer starts the exporter. It does not wait for the collector: spans are exported in
// the background and dropped (by the SDK, with a log line) while it is unreachable.
func NewTracer(ctx context.Context, o TraceOptions) (*Tracer, error) {
	u, err := url.Parse(o.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("tracing: endpoint %q: write the collector's URL, like http://127.0.0.1:4317", o.Endpoint)
	}
	if o.Sample < 0 || o.Sample > 1 {
		return nil, fmt.Errorf("tracing: sample %v out of range: use a share from 0 to 1", o.Sample)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	var exp *otlptrace.Exporter
	switch o.Protocol {
	case "", ProtocolGRPC:
		opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpointURL(o.Endpoint), otlptracegrpc.WithTimeout(timeout)}
		if len(o.Headers) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(o.Headers))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	case ProtocolHTTP:
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpointURL(o.Endpoint), otlptracehttp.WithTimeout(timeout)}
		if len(o.Headers) > 0 {
			opts = append(opts, otlptracehttp.WithHeaders(o.Headers))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	default:
		return nil, fmt.Errorf("tracing: unknown protocol %q: use %s or %s", o.Protocol, ProtocolGRPC, ProtocolHTTP)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: start the OTLP exporter: %w", err)
	}
	name := o.ServiceName
	if name == "" {
		name = "aya"
	}
	flush := o.FlushInterval
	if flush <= 0 {
		flush = 5 * time.Second
	}
	res := resource.NewSchemaless(attribute.String("service.name", name))
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(flush)),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.Sample))),
		sdktrace.WithResource(res),
	)
	return &Tracer{
		tp:     tp,
		tracer: tp.Tracer("aya"),
		prop:   propagation.TraceContext{},
	}, nil
}

// Shutdown exports the spans still buffered and stops the exporter.
func (t *Tracer) Shutdown(ctx context.Context) error { return t.tp.Shutdown(ctx) }

// StartServer starts the server span of r, continuing the trace of r's traceparent header when
// it has a valid one. The span is named "METHOD route" (route names are few; paths are not).
//
// A span outlives the request (it is exported later), so every string taken from r is
// copied: r's strings point into the connection's buffer (see internal/httpx).
func (t *Tracer) StartServer(ctx context.Context, r *httpx.Request, route string) (context.Context, trace.Span) {
	ctx = t.prop.Extract(ctx, headerCarrier{&r.Header})
	method := strings.Clone(r.Method)
	name := method
	if route != "" {
		name += " " + route
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(time.Now()))
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("http.request.method", method),
			attribute.String("url.path", strings.Clone(r.Path)),
			attribute.String("url.scheme", r.Scheme()),
			attribute.String("server.address", strings.Clone(r.Host)),
			attribute.String("network.protocol.version", protoVersion(r.Proto)),
			attribute.String("user_agent.original", strings.Clone(r.Header.Get("User-Agent"))),
			attribute.String("aya.request_id", strings.Clone(r.ID)),
			attribute.String("aya.listener", strings.Clone(r.Listener)),
			attribute.String("aya.route", route),
		)
		if r.ClientIP.IsValid() {
			span.SetAttributes(attribute.String("client.address", r.ClientIP.String()))
		}
	}
	return ctx, span
}

// EndServer ends a server span with the request's outcome.
func EndServer(span trace.Span, rec *Record) {
	if span.IsRecording() {
		span.SetAttributes(
			attribute.Int("http.response.status_code", rec.Status),
			attribute.String("aya.upstream", rec.Upstream),
			attribute.Int64("http.response.body.size", rec.BytesOut),
			attribute.Int("aya.retries", rec.Retries),
		)
		if rec.Target != "" {
			span.SetAttributes(attribute.String("aya.target", rec.Target))
		}
		if rec.Status >= 500 {
			span.SetStatus(codes.Error, rec.Error)
		}
	}
	span.End()
}

// StartTry starts the client span of one try to an upstream target as a child of ctx's span,
// and writes its trace context into out's header, replacing any the client sent.
func (t *Tracer) StartTry(ctx context.Context, out *httpx.Request, upstream, target string, try int) trace.Span {
	_, span := t.tracer.Start(ctx, out.Method+" "+upstream, trace.WithSpanKind(trace.SpanKindClient))
	if span.IsRecording() {
		span.SetAttributes(
			attribute.String("http.request.method", strings.Clone(out.Method)),
			attribute.String("url.full", target+out.Path),
			attribute.String("aya.upstream", upstream),
			attribute.String("aya.target", target),
			attribute.Int("aya.try", try),
		)
		if try > 0 {
			span.SetAttributes(attribute.Int("http.request.resend_count", try))
		}
	}
	out.Header.Del("traceparent")
	out.Header.Del("tracestate")
	t.prop.Inject(trace.ContextWithSpan(ctx, span), headerCarrier{&out.Header})
	return span
}

// EndTry ends a try's span with its outcome.
func EndTry(span trace.Span, status int, err error) {
	if span.IsRecording() {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		switch {
		case err != nil:
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		case status >= 500:
			span.SetStatus(codes.Error, strconv.Itoa(status))
		}
	}
	span.End()
}

func protoVersion(proto string) string {
	switch proto {
	case "HTTP/1.1":
		return "1.1"
	case "HTTP/1.0":
		return "1.0"
	case "HTTP/3.0":
		return "3"
	case "HTTP/2.0":
		return "2"
	}
	return strings.Clone(proto)
}

// headerCarrier lets the propagator read and write aya's header type. Get copies: the trace
// state it returns lives on in the span context.
type headerCarrier struct{ h *httpx.Header }

func (c headerCarrier) Get(key string) string { return strings.Clone(c.h.Get(key)) }
func (c headerCarrier) Set(key, value string) { c.h.Set(key, value) }
func (c headerCarrier) Keys() []string {
	keys := make([]string, len(*c.h))
	for i, f := range *c.h {
		keys[i] = f.Name
	}
	return keys
}
