// Command greeter_server is the grpc-go side of the Triple benchmark
// (bench/run-triple.sh): helloworld.Greeter as tools/proto/helloworld.proto
// defines it (SayHello; SayHelloStream, three replies "Hello <name> 0..2",
// as the demo provider answers), plus grpc-go's interop TestService for the
// streaming measurement. Plaintext, one address.
//
//	greeter_server --addr 127.0.0.1:50051
//
// Prints "listening on HOST:PORT" once it accepts calls; runs until killed.
//
// No generated helloworld code: HelloRequest {string name = 1} and
// HelloReply {string message = 1} have exactly the wire of
// google.protobuf.StringValue {string value = 1}, whose generated Go type
// (wrapperspb) is already in this module, so grpc-go's default proto codec
// marshals the same bytes through the same generated-message fast path that
// protoc-gen-go's helloworld types would take. The service descriptor below
// is what protoc-gen-go-grpc would write for the two methods.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// greeter is the service's handler type (the descriptor's HandlerType).
type greeter interface {
	sayHello(ctx context.Context, name string) string
}

type server struct{}

func (server) sayHello(_ context.Context, name string) string { return "Hello " + name }

func sayHelloHandler(srv any, ctx context.Context, dec func(any) error,
	interceptor grpc.UnaryServerInterceptor) (any, error) {
	req := new(wrapperspb.StringValue)
	if err := dec(req); err != nil {
		return nil, err
	}
	call := func(ctx context.Context, r any) (any, error) {
		name := r.(*wrapperspb.StringValue).GetValue()
		return &wrapperspb.StringValue{Value: srv.(greeter).sayHello(ctx, name)}, nil
	}
	if interceptor == nil {
		return call(ctx, req)
	}
	info := &grpc.UnaryServerInfo{Server: srv, FullMethod: "/helloworld.Greeter/SayHello"}
	return interceptor(ctx, req, info, call)
}

func sayHelloStreamHandler(srv any, stream grpc.ServerStream) error {
	req := new(wrapperspb.StringValue)
	if err := stream.RecvMsg(req); err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
		msg := fmt.Sprintf("Hello %.256s %d", req.GetValue(), i)
		if err := stream.SendMsg(&wrapperspb.StringValue{Value: msg}); err != nil {
			return err
		}
	}
	return nil
}

var greeterDesc = grpc.ServiceDesc{
	ServiceName: "helloworld.Greeter",
	HandlerType: (*greeter)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "SayHello", Handler: sayHelloHandler}},
	Streams: []grpc.StreamDesc{
		{StreamName: "SayHelloStream", Handler: sayHelloStreamHandler, ServerStreams: true},
	},
	Metadata: "helloworld.proto",
}

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "address to listen on (loopback by default)")
	flag.Parse()
	lis, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "greeter_server: listen: %v\n", err)
		os.Exit(1)
	}
	s := grpc.NewServer()
	s.RegisterService(&greeterDesc, server{})
	testgrpc.RegisterTestServiceServer(s, interop.NewTestServer())
	fmt.Printf("listening on %s\n", lis.Addr())
	if err := s.Serve(lis); err != nil {
		fmt.Fprintf(os.Stderr, "greeter_server: serve: %v\n", err)
		os.Exit(1)
	}
}
