// Package tripeer is what the dubbo-go Triple peers (triconsumer,
// triprovider) share: helloworld.Greeter's messages (helloworld.pb.go,
// generated from tools/proto/helloworld.proto) and, written here by hand,
// the service and client descriptions dubbo-go's protoc-gen-go-triple would
// otherwise generate: which methods exist, their call kinds, how a request
// message is made and how a handler is called.
package tripeer

import (
	"context"
	"errors"
	"fmt"
)

import (
	"dubbo.apache.org/dubbo-go/v3/client"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/protocol/triple/triple_protocol"
	"dubbo.apache.org/dubbo-go/v3/server"
)

// Service names on the wire.
const (
	GreeterInterface = "helloworld.Greeter"
	DemoInterface    = "org.apache.dubbo.demo.DemoService"
)

// Greeter is helloworld.Greeter as the peers serve it, answering as the
// dubbo-c and Java peers do: "Hello <name>", three stream replies
// "Hello <name> 0" to "2", and the name "boom" fails (gRPC status UNKNOWN
// with the message "boom").
type Greeter struct{}

// SayHello is rpc SayHello (HelloRequest) returns (HelloReply).
func (Greeter) SayHello(_ context.Context, req *HelloRequest) (*HelloReply, error) {
	if req.GetName() == "boom" {
		return nil, triple_protocol.NewError(triple_protocol.CodeUnknown, errors.New("boom"))
	}
	return &HelloReply{Message: "Hello " + req.GetName()}, nil
}

// SayHelloStream is rpc SayHelloStream (HelloRequest) returns (stream HelloReply).
func (Greeter) SayHelloStream(_ context.Context, req *HelloRequest, send func(*HelloReply) error) error {
	if req.GetName() == "boom" {
		return triple_protocol.NewError(triple_protocol.CodeUnknown, errors.New("boom"))
	}
	for i := 0; i < 3; i++ {
		if err := send(&HelloReply{Message: fmt.Sprintf("Hello %s %d", req.GetName(), i)}); err != nil {
			return err
		}
	}
	return nil
}

// GreeterServiceInfo tells dubbo-go's Triple server how to call Greeter:
// the role of protoc-gen-go-triple's generated ServiceInfo.
var GreeterServiceInfo = server.ServiceInfo{
	InterfaceName: GreeterInterface,
	ServiceType:   (*Greeter)(nil),
	Methods: []server.MethodInfo{
		{
			Name:        "SayHello",
			Type:        constant.CallUnary,
			ReqInitFunc: func() any { return new(HelloRequest) },
			MethodFunc: func(ctx context.Context, args []any, handler any) (any, error) {
				reply, err := handler.(*Greeter).SayHello(ctx, args[0].(*HelloRequest))
				if err != nil {
					return nil, err
				}
				return triple_protocol.NewResponse(reply), nil
			},
		},
		{
			Name:        "SayHelloStream",
			Type:        constant.CallServerStream,
			ReqInitFunc: func() any { return new(HelloRequest) },
			// the handler's second argument: the stream as dubbo-go made it
			StreamInitFunc: func(base any) any { return base },
			MethodFunc: func(ctx context.Context, args []any, handler any) (any, error) {
				stream := args[1].(*triple_protocol.ServerStream)
				send := func(m *HelloReply) error { return stream.Send(m) }
				return nil, handler.(*Greeter).SayHelloStream(ctx, args[0].(*HelloRequest), send)
			},
		},
	},
}

// DemoService is org.apache.dubbo.demo.DemoService's sayHello for Triple's
// non-IDL mode: hessian2 arguments in Java's wrapper messages.
type DemoService struct{}

// SayHello is String sayHello(String name).
func (*DemoService) SayHello(_ context.Context, name string) (string, error) {
	return "Hello " + name, nil
}

// DemoServiceInfo describes DemoService by hand. dubbo-go 3.3.1 can find a
// non-IDL service's methods by reflection (server.RegisterService), but
// then (1) a method is served under its Go name ("/.../SayHello"), where
// Java and dubbo-c call "sayHello", and (2) only when it is the first
// service exported on its port: a later one goes through
// RefreshService's old-style path, which serves nothing for it (404).
// With a description it is served like an IDL service, from the hessian2
// codec the service's serialization names.
var DemoServiceInfo = server.ServiceInfo{
	InterfaceName: DemoInterface,
	ServiceType:   (*DemoService)(nil),
	Methods: []server.MethodInfo{
		{
			Name: "sayHello",
			Type: constant.CallUnary,
			// the wrapper's arguments, each decoded into what its pointer
			// points at
			ReqInitFunc: func() any { return []any{new(string)} },
			MethodFunc: func(ctx context.Context, args []any, handler any) (any, error) {
				name, ok := args[0].(string)
				if !ok {
					return nil, fmt.Errorf("sayHello: want a string, got %T", args[0])
				}
				return handler.(*DemoService).SayHello(ctx, name)
			},
		},
	},
}

// GreeterClientInfo makes a reference an IDL-mode Triple reference (the
// role of protoc-gen-go-triple's generated ClientInfo); calls go through
// the returned connection's CallUnary / CallServerStream.
var GreeterClientInfo = client.ClientInfo{
	InterfaceName:        GreeterInterface,
	MethodNames:          []string{"SayHello", "SayHelloStream"},
	ConnectionInjectFunc: func(any, *client.Connection) {},
}

// DemoClientInfo names DemoService's methods for a non-IDL reference: a
// reference without it (client.Dial) finds no methods and fails to dial
// (dubbo-go 3.3.1 reads them off a Go service given to NewService, by their
// Go names, "SayHello", which Java and dubbo-c do not serve).
var DemoClientInfo = client.ClientInfo{
	InterfaceName:        DemoInterface,
	MethodNames:          []string{"sayHello"},
	ConnectionInjectFunc: func(any, *client.Connection) {},
}
