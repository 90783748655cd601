// The dubbo-go Triple provider: serves helloworld.Greeter in IDL mode
// (protobuf; SayHello, the server stream SayHelloStream, "boom" fails) and
// org.apache.dubbo.demo.DemoService's sayHello in non-IDL mode (hessian2
// in Java's wrapper messages) on one Triple port, 127.0.0.1 only, no
// registry. Prints "READY <port>" once both are exported; SIGTERM is
// dubbo-go's graceful shutdown.
package main

import (
	"flag"
	"fmt"
	"os"
	"time"
)

import (
	"dubbo.apache.org/dubbo-go/v3"
	_ "dubbo.apache.org/dubbo-go/v3/imports"
	"dubbo.apache.org/dubbo-go/v3/logger"
	"dubbo.apache.org/dubbo-go/v3/protocol"
	"dubbo.apache.org/dubbo-go/v3/server"
)

import (
	"dubbo-c/interop/go/peer"
	"dubbo-c/interop/go/tripeer"
)

func main() {
	out := peer.TakeStdout()
	port := flag.Int("port", 0, "port to listen on, 0 = any free port")
	flag.Parse()
	if err := run(out, *port); err != nil {
		fmt.Fprintln(os.Stderr, "go triple provider:", err)
		os.Exit(1)
	}
}

func run(out *os.File, port int) error {
	if port == 0 {
		p, err := peer.FreePort()
		if err != nil {
			return err
		}
		port = p
	}
	level := os.Getenv("DUBBO_GO_LOG_LEVEL")
	if level == "" {
		level = "warn"
	}
	ins, err := dubbo.NewInstance(
		dubbo.WithName("go-triple-provider"),
		dubbo.WithLogger(logger.WithZap(), logger.WithLevel(level)),
		dubbo.WithProtocol(protocol.WithTriple(), protocol.WithIp("127.0.0.1"), protocol.WithPort(port)),
		// no MetadataService competing for the port (see ../README.md)
		dubbo.WithRemoteMetadata(),
	)
	if err != nil {
		return err
	}
	srv, err := ins.NewServer(server.SetServerTLS(nil))
	if err != nil {
		return err
	}
	// IDL mode: the service description says how to call each method
	if err := srv.Register(&tripeer.Greeter{}, &tripeer.GreeterServiceInfo); err != nil {
		return fmt.Errorf("register %s: %w", tripeer.GreeterInterface, err)
	}
	// non-IDL mode (hessian2 in Java's wrappers), described by hand: see
	// tripeer.DemoServiceInfo for why not server.RegisterService
	if err := srv.Register(&tripeer.DemoService{}, &tripeer.DemoServiceInfo,
		server.WithInterface(tripeer.DemoInterface), server.WithSerialization("hessian2")); err != nil {
		return fmt.Errorf("register %s: %w", tripeer.DemoInterface, err)
	}

	// Serve blocks for good and reports nothing: watch the exports
	var exported []*server.ServiceOptions
	for _, id := range []string{tripeer.GreeterInterface, tripeer.DemoInterface} {
		so := srv.GetServiceOptionsByInterfaceName(id)
		if so == nil {
			return fmt.Errorf("no service options for %s", id)
		}
		exported = append(exported, so)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ready := true
		for _, so := range exported {
			ready = ready && so.IsExport()
		}
		if ready {
			break
		}
		select {
		case err := <-served:
			return fmt.Errorf("serve: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("services not exported after 60 s")
		}
	}
	fmt.Fprintf(out, "READY %d\n", port)
	return <-served
}
