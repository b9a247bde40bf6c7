package demo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func dialGRPC(t *testing.T, ctx context.Context, name string) *grpc.ClientConn {
	t.Helper()
	addr, err := StartGRPC(ctx, "127.0.0.1:0", name)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestGRPCHealthCheck(t *testing.T) {
	conn := dialGRPC(t, t.Context(), "g1")
	for _, service := range []string{"", EchoService} {
		var header, trailer metadata.MD
		resp, err := healthpb.NewHealthClient(conn).Check(t.Context(), &healthpb.HealthCheckRequest{Service: service},
			grpc.Header(&header), grpc.Trailer(&trailer))
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("service %q: %v", service, resp.GetStatus())
		}
		if got := header.Get(backendMD); len(got) != 1 || got[0] != "g1" {
			t.Errorf("header %v", header)
		}
		if got := trailer.Get(backendMD); len(got) != 1 || got[0] != "g1" {
			t.Errorf("trailer %v", trailer)
		}
	}
}

func TestGRPCWatchSeesShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	conn := dialGRPC(t, ctx, "g2")
	w, err := healthpb.NewHealthClient(conn).Watch(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := w.Recv()
	if err != nil || first.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("first %v, %v", first, err)
	}
	if h, err := w.Header(); err != nil || h.Get(backendMD)[0] != "g2" {
		t.Errorf("stream header %v, %v", h, err)
	}
	cancel()
	next, err := w.Recv()
	if err != nil || next.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Errorf("after shutdown %v, %v", next, err)
	}
}

func TestGRPCEcho(t *testing.T) {
	conn := dialGRPC(t, t.Context(), "g3")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	in := wrapperspb.Bytes(bytes.Repeat([]byte{7}, 1<<20))
	out := new(wrapperspb.BytesValue)
	var trailer metadata.MD
	if err := conn.Invoke(ctx, EchoUnaryMethod, in, out, grpc.Trailer(&trailer)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(in.GetValue(), out.GetValue()) || trailer.Get(backendMD)[0] != "g3" {
		t.Errorf("unary echo: %d bytes back, trailer %v", len(out.GetValue()), trailer)
	}

	s, err := conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, EchoStreamMethod)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"a", "bb", ""} {
		if err := s.SendMsg(wrapperspb.Bytes([]byte(msg))); err != nil {
			t.Fatal(err)
		}
		got := new(wrapperspb.BytesValue)
		if err := s.RecvMsg(got); err != nil {
			t.Fatal(err)
		}
		if string(got.GetValue()) != msg {
			t.Errorf("stream echo %q, want %q", got.GetValue(), msg)
		}
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := s.RecvMsg(new(wrapperspb.BytesValue)); !errors.Is(err, io.EOF) {
		t.Errorf("end of stream: %v", err)
	}
	if s.Trailer().Get(backendMD)[0] != "g3" {
		t.Errorf("stream trailer %v", s.Trailer())
	}
}
