// The dubbo-go reference provider: exports org.apache.dubbo.demo.DemoService
// and com.example.UserService on the Dubbo protocol with hessian2 (see
// tests/interop/matrix/PEERS.md), prints "READY <port>" once both are
// exported (and registered), and leaves SIGTERM to dubbo-go's graceful
// shutdown (unregister, wait, drain, close, exit 0).
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
	"dubbo.apache.org/dubbo-go/v3/registry"
	"dubbo.apache.org/dubbo-go/v3/server"
)

import (
	"dubbo-c/interop/go/peer"
)

func main() {
	out := peer.TakeStdout()
	var (
		port    = flag.Int("port", 0, "port to listen on, 0 = any free port")
		regURL  = flag.String("registry", "", "zookeeper://127.0.0.1:PORT (absent: no registry)")
		app     = flag.String("app", "go-provider", "application name")
		regType = flag.String("registry-type", "interface",
			"Go-only: what to register: interface (/dubbo/<iface>/providers), service (application-level, /services), all")
		params peer.KVList
	)
	flag.Var(&params, "param", "k=v, repeatable: set on both services' URLs (heartbeat=MS also sets dubbo-go's getty heartbeat)")
	flag.Parse()

	if err := run(out, *port, *regURL, *app, *regType, &params); err != nil {
		fmt.Fprintln(os.Stderr, "go provider:", err)
		os.Exit(1)
	}
}

func run(out *os.File, port int, regURL, app, regType string, params *peer.KVList) error {
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
	protoOpts := []protocol.ServerOption{
		protocol.WithDubbo(),
		protocol.WithIp("127.0.0.1"),
		protocol.WithPort(port),
	}
	if hb, ok := params.Get("heartbeat"); ok {
		period, idle, err := peer.GettyHeartbeat(hb)
		if err != nil {
			return err
		}
		// decoded by dubbo-go into its getty ServerConfig (yaml keys)
		protoOpts = append(protoOpts, protocol.WithParams(map[string]any{
			"heartbeat-period": period.String(),
			"session-timeout":  idle.String(),
		}))
	}
	insOpts := []dubbo.InstanceOption{
		dubbo.WithName(app),
		dubbo.WithLogger(logger.WithZap(), logger.WithLevel(level)),
		dubbo.WithProtocol(protoOpts...),
		// dubbo-go's default ("local") metadata exports its MetadataService
		// on the Dubbo port on every interface (":port") before the user's
		// services, which then fail to bind 127.0.0.1:port. "remote" keeps
		// the metadata in the registry (its metadata report) and exports
		// no MetadataService.
		dubbo.WithRemoteMetadata(),
	}
	if regURL != "" {
		scheme, hostport, err := peer.ParseRegistry(regURL)
		if err != nil {
			return err
		}
		regOpts := []registry.Option{
			registry.WithRegistry(scheme),
			registry.WithAddress(hostport),
		}
		switch regType {
		case "interface":
			regOpts = append(regOpts, registry.WithRegisterInterface())
		case "service":
			regOpts = append(regOpts, registry.WithRegisterService())
		case "all":
			regOpts = append(regOpts, registry.WithRegisterServiceAndInterface())
		default:
			return fmt.Errorf("--registry-type: want interface, service or all, got %q", regType)
		}
		insOpts = append(insOpts, dubbo.WithRegistry(regOpts...))
	}

	ins, err := dubbo.NewInstance(insOpts...)
	if err != nil {
		return err
	}
	// dubbo-go 3.3.1 bug: on the Dubbo protocol its getty server takes the
	// new API's default (empty, non-nil) TLS config as "TLS enabled" and
	// panics loading a certificate from "" (remoting/getty/getty_server.go,
	// initServer); a nil TLS config keeps it on plain TCP.
	srv, err := ins.NewServer(server.SetServerTLS(nil))
	if err != nil {
		return err
	}

	services := []struct {
		handler any
		id      string
		iface   string
	}{
		{&peer.DemoService{}, "DemoService", peer.DemoInterface},
		{&peer.UserService{}, "UserService", peer.UserInterface},
	}
	for _, s := range services {
		opts := []server.ServiceOption{
			server.WithInterface(s.iface),
			server.WithSerialization("hessian2"),
		}
		for _, k := range params.Keys {
			opts = append(opts, server.WithParam(k, params.Values[k]))
		}
		if err := srv.RegisterService(s.handler, opts...); err != nil {
			return fmt.Errorf("register %s: %w", s.iface, err)
		}
	}

	// Serve exports (and registers) the services, then blocks forever
	// holding the server's lock (so GetServiceOptions blocks from then on);
	// it says nothing when the exports are done, so take the services'
	// options now and watch their "exported" flags.
	var exported []*server.ServiceOptions
	for _, s := range services {
		so := srv.GetServiceOptions(s.id)
		if so == nil {
			return fmt.Errorf("no service options for %s", s.id)
		}
		exported = append(exported, so)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve() }()
	deadline := time.Now().Add(60 * time.Second)
	for {
		ready := true
		for _, so := range exported {
			if !so.IsExport() {
				ready = false
			}
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

	// SIGTERM/SIGINT are dubbo-go's: its graceful shutdown ends the process
	return <-served
}
