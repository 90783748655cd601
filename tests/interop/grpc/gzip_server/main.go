// Command interop_server_gzip is grpc-go's interop test server (the
// TestService of package google.golang.org/grpc/interop) with the gzip
// compressor registered, which grpc-go's own interop server binary lacks: it
// accepts gzip-compressed requests, answers a compressed request compressed,
// and advertises gzip in grpc-accept-encoding. Plaintext only.
//
//	interop_server_gzip --port=P [--use_tls=false]
package main

import (
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"

	"google.golang.org/grpc"
	_ "google.golang.org/grpc/encoding/gzip" // registers "gzip"
	"google.golang.org/grpc/interop"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
)

var (
	port   = flag.Int("port", 10000, "the port to listen on (all interfaces)")
	useTLS = flag.Bool("use_tls", false, "accepted for the interop server's command line; only false is supported")
)

func main() {
	flag.Parse()
	if *useTLS {
		fmt.Fprintln(os.Stderr, "interop_server_gzip: --use_tls=true is not supported (plaintext only)")
		os.Exit(2)
	}
	lis, err := net.Listen("tcp", ":"+strconv.Itoa(*port))
	if err != nil {
		fmt.Fprintf(os.Stderr, "interop_server_gzip: listen: %v\n", err)
		os.Exit(1)
	}
	server := grpc.NewServer()
	testgrpc.RegisterTestServiceServer(server, interop.NewTestServer())
	if err := server.Serve(lis); err != nil {
		fmt.Fprintf(os.Stderr, "interop_server_gzip: serve: %v\n", err)
		os.Exit(1)
	}
}
