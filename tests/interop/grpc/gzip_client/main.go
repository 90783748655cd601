// Command interop_client_gzip runs one of gRPC's standard interop test cases
// like grpc-go's own interop client (google.golang.org/grpc/interop/client),
// with every request message compressed: that client has no compression
// flag, and neither it nor grpc-go's interop server registers gzip. The case
// bodies are grpc-go's (package google.golang.org/grpc/interop); this only
// dials with a default compressor. Plaintext only.
//
//	interop_client_gzip --server_host=H --server_port=P --test_case=NAME [--compression=gzip]
//
// Exits 0 when the case passed; a failing case ends the process non-zero
// with the reason on stderr (grpc-go's interop cases call Fatal).
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // registers "gzip"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

var (
	host        = flag.String("server_host", "localhost", "the server's host name or address")
	port        = flag.Int("server_port", 10000, "the server's port")
	testCase    = flag.String("test_case", "large_unary", "the interop case to run")
	compression = flag.String("compression", "gzip", "the compressor for every request (a registered name; \"identity\" for none)")
	useTLS      = flag.Bool("use_tls", false, "accepted for the interop client's command line; only false is supported")
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "interop_client_gzip: "+format+"\n", args...)
	os.Exit(2)
}

func main() {
	flag.Parse()
	if *useTLS {
		fail("--use_tls=true is not supported (plaintext only)")
	}
	opts := []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	if *compression != "identity" {
		if encoding.GetCompressor(*compression) == nil {
			fail("no compressor named %q", *compression)
		}
		opts = append(opts, grpc.WithDefaultCallOptions(grpc.UseCompressor(*compression)))
	}
	addr := net.JoinHostPort(*host, strconv.Itoa(*port))
	conn, err := grpc.NewClient(addr, opts...)
	if err != nil {
		fail("grpc.NewClient(%q): %v", addr, err)
	}
	defer conn.Close()
	tc := testgrpc.NewTestServiceClient(conn)
	ctx := context.Background()

	cases := map[string]func(){
		"empty_unary":                 func() { interop.DoEmptyUnaryCall(ctx, tc) },
		"large_unary":                 func() { interop.DoLargeUnaryCall(ctx, tc) },
		"client_streaming":            func() { interop.DoClientStreaming(ctx, tc) },
		"server_streaming":            func() { interop.DoServerStreaming(ctx, tc) },
		"ping_pong":                   func() { interop.DoPingPong(ctx, tc) },
		"empty_stream":                func() { interop.DoEmptyStream(ctx, tc) },
		"timeout_on_sleeping_server":  func() { interop.DoTimeoutOnSleepingServer(ctx, tc) },
		"cancel_after_begin":          func() { interop.DoCancelAfterBegin(ctx, tc) },
		"cancel_after_first_response": func() { interop.DoCancelAfterFirstResponse(ctx, tc) },
		"status_code_and_message":     func() { interop.DoStatusCodeAndMessage(ctx, tc) },
		"special_status_message":      func() { interop.DoSpecialStatusMessage(ctx, tc) },
		"custom_metadata":             func() { interop.DoCustomMetadata(ctx, tc) },
		"unimplemented_method":        func() { interop.DoUnimplementedMethod(ctx, conn) },
		"unimplemented_service": func() {
			interop.DoUnimplementedService(ctx, testgrpc.NewUnimplementedServiceClient(conn))
		},
	}
	run, ok := cases[*testCase]
	if !ok {
		fail("unsupported test case %q", *testCase)
	}
	run()
	fmt.Printf("%s done (compression %s)\n", *testCase, *compression)
}
