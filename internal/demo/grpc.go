package demo

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The echo service is declared by hand (there is no protoc step in this repository). Its
// messages are the well-known google.protobuf.BytesValue, so any client can call it with
// grpc.ClientConn.Invoke or NewStream and a *wrapperspb.BytesValue, without generated code.
const (
	EchoService      = "aya.demo.v1.Echo"
	EchoUnaryMethod  = "/" + EchoService + "/Unary"  // one BytesValue in, the same one back
	EchoStreamMethod = "/" + EchoService + "/Stream" // bidirectional: every message echoed back
)

// backendMD is the gRPC metadata key naming the backend, in both headers and trailers.
const backendMD = "x-demo-backend"

// NewGRPC returns a gRPC server with the standard health service (grpc.health.v1 Check and
// the server-streaming Watch; "" and EchoService report SERVING) and the echo service. Every
// call carries x-demo-backend: name in its response headers and trailers.
func NewGRPC(name string) *grpc.Server {
	srv, _ := newGRPC(name)
	return srv
}

func newGRPC(name string) (*grpc.Server, *health.Server) {
	md := metadata.Pairs(backendMD, name)
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, next grpc.UnaryHandler) (any, error) {
			// Errors here mean the call is already finished; the reply still goes out.
			_ = grpc.SetHeader(ctx, md)
			_ = grpc.SetTrailer(ctx, md)
			return next(ctx, req)
		}),
		grpc.ChainStreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, next grpc.StreamHandler) error {
			_ = ss.SetHeader(md)
			ss.SetTrailer(md)
			return next(srv, ss)
		}),
	)
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus(EchoService, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, hs)
	srv.RegisterService(&echoServiceDesc, struct{}{})
	return srv, hs
}

var echoServiceDesc = grpc.ServiceDesc{
	ServiceName: EchoService,
	HandlerType: (*any)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Unary",
		Handler: func(_ any, ctx context.Context, dec func(any) error, ic grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.BytesValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			echo := func(context.Context, any) (any, error) { return in, nil }
			if ic == nil {
				return echo(ctx, in)
			}
			return ic(ctx, in, &grpc.UnaryServerInfo{FullMethod: EchoUnaryMethod}, echo)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Stream",
		ServerStreams: true,
		ClientStreams: true,
		Handler: func(_ any, ss grpc.ServerStream) error {
			for {
				m := new(wrapperspb.BytesValue)
				if err := ss.RecvMsg(m); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
				if err := ss.SendMsg(m); err != nil {
					return err
				}
			}
		},
	}},
}

// StartGRPC serves NewGRPC(name) over cleartext HTTP/2 (plain gRPC over TCP) on addr until ctx
// ends and returns the bound address. At shutdown health turns NOT_SERVING (so Watch clients
// see it), then in-flight calls get a short grace before the server closes.
func StartGRPC(ctx context.Context, addr, name string) (net.Addr, error) {
	ln, err := listen(ctx, addr)
	if err != nil {
		return nil, err
	}
	srv, hs := newGRPC(name)
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			slog.Error("demo gRPC server stopped", "addr", ln.Addr().String(), "err", err)
		}
	}()
	go func() {
		<-ctx.Done()
		hs.Shutdown()
		done := make(chan struct{})
		go func() { srv.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(shutdownGrace):
			srv.Stop()
		}
	}()
	return ln.Addr(), nil
}
