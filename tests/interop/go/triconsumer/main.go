// The dubbo-go Triple consumer: calls a Triple provider's
// helloworld.Greeter in IDL mode (protobuf: SayHello, the server stream
// SayHelloStream, SayHello("boom") expecting an error) and
// org.apache.dubbo.demo.DemoService's sayHello in non-IDL mode (hessian2 in
// Java's wrapper messages), directly (no registry). One line per case on
// stdout: "RESULT <case> PASS|FAIL <detail>"; exit 1 when a case failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

import (
	"dubbo.apache.org/dubbo-go/v3"
	"dubbo.apache.org/dubbo-go/v3/client"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	_ "dubbo.apache.org/dubbo-go/v3/imports"
	"dubbo.apache.org/dubbo-go/v3/logger"
	"dubbo.apache.org/dubbo-go/v3/protocol/triple/triple_protocol"
)

import (
	"dubbo-c/interop/go/peer"
	"dubbo-c/interop/go/tripeer"
)

var allCases = []string{"idl_say_hello", "idl_stream", "idl_exception", "say_hello"}

type env struct {
	cli *client.Client
	url string
}

func main() {
	out := peer.TakeStdout()
	var (
		addr  = flag.String("addr", "", "HOST:PORT of the Triple provider")
		cases = flag.String("cases", strings.Join(allCases, ","), "comma-separated cases")
	)
	flag.Parse()
	if *addr == "" {
		fmt.Fprintln(os.Stderr, "usage: triconsumer --addr HOST:PORT [--cases a,b]")
		os.Exit(2)
	}
	level := os.Getenv("DUBBO_GO_LOG_LEVEL")
	if level == "" {
		level = "error"
	}
	ins, err := dubbo.NewInstance(dubbo.WithName("go-triple-consumer"),
		dubbo.WithLogger(logger.WithZap(), logger.WithLevel(level)))
	if err == nil {
		var cli *client.Client
		cli, err = ins.NewClient(client.WithClientNoCheck())
		if err == nil {
			e := &env{cli: cli, url: "tri://" + *addr}
			os.Exit(e.run(out, strings.Split(*cases, ",")))
		}
	}
	fmt.Fprintln(os.Stderr, "go triple consumer:", err)
	os.Exit(2)
}

func (e *env) run(out *os.File, cases []string) int {
	funcs := map[string]func() (string, error){
		"idl_say_hello": e.idlSayHello,
		"idl_stream":    e.idlStream,
		"idl_exception": e.idlException,
		"say_hello":     e.sayHello,
	}
	rc := 0
	for _, name := range cases {
		f, ok := funcs[name]
		var detail string
		var err error
		if !ok {
			err = errors.New("no such case")
		} else {
			detail, err = isolated(f)
		}
		if err != nil {
			fmt.Fprintf(out, "RESULT %s FAIL %s\n", name, oneLine(err.Error()))
			rc = 1
		} else {
			fmt.Fprintf(out, "RESULT %s PASS %s\n", name, oneLine(detail))
		}
	}
	return rc
}

// isolated runs a case with panics caught: one case's crash inside dubbo-go
// is that case's failure.
func isolated(f func() (string, error)) (detail string, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
			fmt.Fprintf(os.Stderr, "panic: %v\n%s", r, debug.Stack())
		}
	}()
	return f()
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// greeter is an IDL-mode (protobuf) reference to helloworld.Greeter.
func (e *env) greeter() (*client.Connection, error) {
	return e.cli.DialWithInfo(tripeer.GreeterInterface, &tripeer.GreeterClientInfo,
		client.WithURL(e.url), client.WithProtocolTriple(), client.WithSerialization("protobuf"),
		client.WithClusterFailFast())
}

// Every call carries its own timeout: dubbo-go 3.3.1 otherwise sends none
// (see ../README.md, "No timeout unless every call carries one").
func (e *env) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

func (e *env) idlSayHello() (string, error) {
	conn, err := e.greeter()
	if err != nil {
		return "", err
	}
	ctx, cancel := e.ctx()
	defer cancel()
	reply := new(tripeer.HelloReply)
	err = conn.CallUnary(ctx, []any{&tripeer.HelloRequest{Name: "dubbo-go"}}, reply, "SayHello",
		client.WithCallRequestTimeout(10*time.Second))
	if err != nil {
		return "", err
	}
	if reply.GetMessage() != "Hello dubbo-go" {
		return "", fmt.Errorf("got %q", reply.GetMessage())
	}
	return fmt.Sprintf("%q", reply.GetMessage()), nil
}

func (e *env) idlStream() (string, error) {
	conn, err := e.greeter()
	if err != nil {
		return "", err
	}
	ctx, cancel := e.ctx()
	defer cancel()
	raw, err := conn.CallServerStream(ctx, &tripeer.HelloRequest{Name: "dubbo-go"}, "SayHelloStream",
		client.WithCallRequestTimeout(10*time.Second))
	if err != nil {
		return "", err
	}
	stream, ok := raw.(*triple_protocol.ServerStreamForClient)
	if !ok {
		return "", fmt.Errorf("CallServerStream gave a %T", raw)
	}
	defer stream.Close()
	var got []string
	for {
		msg := new(tripeer.HelloReply)
		if !stream.Receive(msg) {
			break
		}
		got = append(got, msg.GetMessage())
	}
	if err := stream.Err(); err != nil {
		return "", fmt.Errorf("after %d messages %q: %w", len(got), got, err)
	}
	want := []string{"Hello dubbo-go 0", "Hello dubbo-go 1", "Hello dubbo-go 2"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		return "", fmt.Errorf("got %q, want %q", got, want)
	}
	return fmt.Sprintf("%d messages %q", len(got), got), nil
}

func (e *env) idlException() (string, error) {
	conn, err := e.greeter()
	if err != nil {
		return "", err
	}
	ctx, cancel := e.ctx()
	defer cancel()
	reply := new(tripeer.HelloReply)
	err = conn.CallUnary(ctx, []any{&tripeer.HelloRequest{Name: "boom"}}, reply, "SayHello",
		client.WithCallRequestTimeout(10*time.Second))
	if err == nil {
		return "", fmt.Errorf("no error, the reply %q", reply.GetMessage())
	}
	code := triple_protocol.CodeOf(err)
	if code != triple_protocol.CodeUnknown || !strings.Contains(err.Error(), "boom") {
		return "", fmt.Errorf("want code unknown with \"boom\", got code %v: %v", code, err)
	}
	return fmt.Sprintf("code %v: %v", code, err), nil
}

func (e *env) sayHello() (string, error) {
	conn, err := e.cli.DialWithInfo(tripeer.DemoInterface, &tripeer.DemoClientInfo, client.WithURL(e.url), client.WithProtocolTriple(),
		client.WithSerialization("hessian2"), client.WithIDL(constant.NONIDL), client.WithClusterFailFast())
	if err != nil {
		return "", err
	}
	ctx, cancel := e.ctx()
	defer cancel()
	var reply string
	err = conn.CallUnary(ctx, []any{"dubbo-go"}, &reply, "sayHello",
		client.WithCallRequestTimeout(10*time.Second))
	if err != nil {
		return "", err
	}
	if reply != "Hello dubbo-go" {
		return "", fmt.Errorf("got %q", reply)
	}
	return fmt.Sprintf("%q", reply), nil
}
