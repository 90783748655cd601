// The dubbo-go reference consumer: runs the cases of
// tests/interop/matrix/PEERS.md against a provider (direct or through a
// registry) and prints one "RESULT <case> PASS|FAIL|SKIP <detail>" line per
// case, or, in load mode, "LOAD ok=N failed=M" and up to 5 "LOADERR" lines.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

import (
	"dubbo.apache.org/dubbo-go/v3"
	"dubbo.apache.org/dubbo-go/v3/client"
	_ "dubbo.apache.org/dubbo-go/v3/imports"
	"dubbo.apache.org/dubbo-go/v3/logger"
	"dubbo.apache.org/dubbo-go/v3/registry"
	"dubbo.apache.org/dubbo-go/v3/remoting/getty"
)

import (
	"dubbo-c/interop/go/peer"
)

var allCases = []string{
	"say_hello", "echo_string", "echo_int", "echo_long", "echo_double", "echo_null",
	"echo_list", "echo_map", "echo_bytes", "echo_date", "echo_bigdecimal", "echo_user",
	"user_echo", "user_sample", "user_check", "whoami", "exception", "generic",
	"generic_user", "echo_service", "attachments", "timeout", "heartbeat",
}

type options struct {
	url, registry, expect, regType string
	cases                          []string
	params                         peer.KVList
	loadSeconds, threads           int
}

func main() {
	out := peer.TakeStdout()
	var (
		o     options
		cases string
	)
	flag.StringVar(&o.url, "url", "", "dubbo://127.0.0.1:P (direct)")
	flag.StringVar(&o.registry, "registry", "", "zookeeper://127.0.0.1:PORT")
	flag.StringVar(&cases, "cases", "", "comma-separated cases (default: all)")
	flag.Var(&o.params, "param", "k=v, repeatable: reference parameters")
	flag.StringVar(&o.expect, "expect-exception", "", "Java class that fail(\"boom\") raises on this provider")
	flag.IntVar(&o.loadSeconds, "load-seconds", 0, "load mode: call sayHello for this many seconds")
	flag.IntVar(&o.threads, "threads", 1, "load mode: concurrent callers")
	flag.StringVar(&o.regType, "registry-type", "interface",
		"Go-only: what to subscribe to: interface (/dubbo/<iface>/providers), service (application-level), all")
	flag.Parse()
	if (o.url == "") == (o.registry == "") {
		fmt.Fprintln(os.Stderr, "go consumer: give exactly one of --url and --registry")
		os.Exit(2)
	}
	if cases == "" {
		o.cases = allCases
	} else {
		for _, c := range strings.Split(cases, ",") {
			if c = strings.TrimSpace(c); c != "" {
				o.cases = append(o.cases, c)
			}
		}
	}

	env, err := setup(&o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go consumer:", err)
		os.Exit(1)
	}
	if o.loadSeconds > 0 {
		os.Exit(runLoad(out, env, o.loadSeconds, o.threads))
	}
	failed := false
	for _, name := range o.cases {
		status, detail := runCase(env, name)
		if status == "FAIL" {
			failed = true
		}
		fmt.Fprintf(out, "RESULT %s %s %s\n", name, status, oneLine(detail))
	}
	if failed {
		os.Exit(1)
	}
	os.Exit(0)
}

// env holds the references the cases use.
type env struct {
	o           *options
	cli         *client.Client
	refOpts     []client.ReferenceOption
	demo, user  *client.Connection
	demoGeneric *client.Connection
	userGeneric *client.Connection
	dialErr     map[string]error
	timeout     time.Duration
	mu          sync.Mutex
	dialed      map[*client.Connection]time.Time
}

// discoveryWait is how long after a reference was made a "no provider"
// answer is taken for "the registry has not delivered the providers yet"
// (dubbo-go's ZooKeeper subscription fills each reference's directory in
// the background, so the first calls right after Dial find none).
const discoveryWait = 15 * time.Second

// invoke is CallUnary; through a registry it retries "no provider" answers
// (which come from the cluster before anything is sent) until discoveryWait
// has passed since the reference was made.
func (e *env) invoke(ctx context.Context, c *client.Connection, args []any, out any, method string, opts ...client.CallOption) error {
	for {
		err := c.CallUnary(ctx, args, out, method, opts...)
		if err == nil || e.o.registry == "" || !isNoProvider(err) {
			return err
		}
		e.mu.Lock()
		since := time.Since(e.dialed[c])
		e.mu.Unlock()
		if since > discoveryWait {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// callTimeout is the per-call timeout every call carries. dubbo-go 3.3.1's
// CallUnary always puts the call option's timeout into the invocation's
// "timeout" attachment, "" when not given; the Dubbo invoker then prefers
// that attachment over the reference's timeout, parses "" as 0 and waits
// for the answer forever (and sends "timeout": "0" to the provider).
func (e *env) callTimeout() client.CallOption {
	return client.WithCallRequestTimeout(e.timeout)
}

func setup(o *options) (*env, error) {
	level := os.Getenv("DUBBO_GO_LOG_LEVEL")
	if level == "" {
		level = "error"
	}

	// getty client settings are process-wide in dubbo-go, and the new
	// client API gives no way to set them per reference on the Dubbo
	// protocol (remoting/getty initClient looks for a protocol config the
	// reference URL does not carry), so set them here, before any
	// connection exists:
	//   - one TCP connection per provider address (dubbo-go's default is a
	//     pool of 16, picked at random per call, which would also make the
	//     heartbeat case's "same connection" check meaningless);
	//   - heartbeat: the reference parameter "heartbeat" (ms), else 1000 ms
	//     when the heartbeat case runs (the case's reference heartbeat=1000),
	//     else dubbo-go's default.
	cc := getty.GetDefaultClientConfig()
	cc.ConnectionNum = 1
	hb, hbGiven := o.params.Get("heartbeat")
	if !hbGiven && contains(o.cases, "heartbeat") && o.loadSeconds == 0 {
		hb, hbGiven = "1000", true
	}
	if hbGiven {
		period, idle, err := peer.GettyHeartbeat(hb)
		if err != nil {
			return nil, err
		}
		cc.HeartbeatPeriod = period.String()
		// the session idle limit must stay above the period
		if idle > 180*time.Second {
			cc.SessionTimeout = idle.String()
		}
	}
	getty.SetClientConf(*cc)

	insOpts := []dubbo.InstanceOption{
		dubbo.WithName("go-consumer"),
		dubbo.WithLogger(logger.WithZap(), logger.WithLevel(level)),
	}
	if o.registry != "" {
		scheme, hostport, err := peer.ParseRegistry(o.registry)
		if err != nil {
			return nil, err
		}
		regOpts := []registry.Option{registry.WithRegistry(scheme), registry.WithAddress(hostport)}
		switch o.regType {
		case "interface":
			// dubbo-go's default is application-level discovery only
			regOpts = append(regOpts, registry.WithRegisterInterface())
		case "service":
			regOpts = append(regOpts, registry.WithRegisterService())
		case "all":
			regOpts = append(regOpts, registry.WithRegisterServiceAndInterface())
		default:
			return nil, fmt.Errorf("--registry-type: want interface, service or all, got %q", o.regType)
		}
		insOpts = append(insOpts, dubbo.WithRegistry(regOpts...))
	}
	ins, err := dubbo.NewInstance(insOpts...)
	if err != nil {
		return nil, err
	}
	cli, err := ins.NewClient(client.WithClientNoCheck())
	if err != nil {
		return nil, err
	}

	e := &env{o: o, cli: cli, dialErr: map[string]error{}, timeout: 3 * time.Second,
		dialed: map[*client.Connection]time.Time{}}
	e.refOpts = []client.ReferenceOption{
		client.WithProtocolDubbo(),
		client.WithSerialization("hessian2"),
		client.WithFilter(peer.AttachmentsFilter),
		client.WithClusterFailOver(),
		client.WithRetries(2),
	}
	if o.url != "" {
		e.refOpts = append(e.refOpts, client.WithURL(o.url))
	}
	for _, k := range o.params.Keys {
		v := o.params.Values[k]
		switch k {
		case "timeout": // Java: milliseconds; dubbo-go: a Go duration
			ms, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("--param timeout wants milliseconds, got %q", v)
			}
			e.timeout = time.Duration(ms) * time.Millisecond
			e.refOpts = append(e.refOpts, client.WithRequestTimeout(e.timeout))
		case "retries":
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("--param retries wants a number, got %q", v)
			}
			e.refOpts = append(e.refOpts, client.WithRetries(n))
		case "cluster":
			e.refOpts = append(e.refOpts, client.WithCluster(v))
		case "loadbalance":
			e.refOpts = append(e.refOpts, client.WithLoadBalance(v))
		default: // heartbeat too: see above; the rest only goes onto the URL
			e.refOpts = append(e.refOpts, client.WithParam(k, v))
		}
	}
	e.demo = e.dial(peer.DemoInterface, "demo")
	if o.loadSeconds > 0 {
		if e.demo == nil {
			return nil, e.dialErr["demo"]
		}
		return e, nil
	}
	e.user = e.dial(peer.UserInterface, "user")
	if o.url != "" {
		// through ZooKeeper a second reference to an interface gets no
		// providers in dubbo-go 3.3.1 (see genericCall), so only direct
		e.demoGeneric = e.dial(peer.DemoInterface, "demo generic", client.WithGeneric())
		e.userGeneric = e.dial(peer.UserInterface, "user generic", client.WithGeneric())
	}
	return e, nil
}

// dial refers to an interface; dubbo-go panics on some failures, so a
// failed reference is remembered and makes the cases that need it fail.
func (e *env) dial(iface, name string, extra ...client.ReferenceOption) (conn *client.Connection) {
	defer func() {
		if r := recover(); r != nil {
			e.dialErr[name] = fmt.Errorf("refer %s: panic: %v", iface, r)
			conn = nil
		}
	}()
	c, err := e.refer(iface, extra...)
	if err != nil {
		e.dialErr[name] = err
		return nil
	}
	return c
}

// refer makes a reference with the common options plus extra.
func (e *env) refer(iface string, extra ...client.ReferenceOption) (*client.Connection, error) {
	opts := append(append([]client.ReferenceOption{}, e.refOpts...), extra...)
	c, err := e.cli.Dial(iface, opts...)
	if err != nil {
		return nil, fmt.Errorf("refer %s: %v", iface, err)
	}
	e.mu.Lock()
	e.dialed[c] = time.Now()
	e.mu.Unlock()
	return c, nil
}

func isNoProvider(err error) bool {
	s := strings.ToLower(err.Error())
	return strings.Contains(s, "no provider") || strings.Contains(s, "no invoker") ||
		strings.Contains(s, "failed to invoke the method") && strings.Contains(s, "available")
}

// errSkip marks a SKIP result.
type errSkip struct{ why string }

func (s errSkip) Error() string { return s.why }

func runCase(e *env, name string) (status, detail string) {
	fn, ok := caseTable[name]
	if !ok {
		return "FAIL", "unknown case"
	}
	type answer struct{ status, detail string }
	done := make(chan answer, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- answer{"FAIL", fmt.Sprintf("panic: %v", r)}
			}
		}()
		d, err := fn(e)
		var skip errSkip
		switch {
		case errors.As(err, &skip):
			done <- answer{"SKIP", skip.why}
		case err != nil:
			done <- answer{"FAIL", err.Error()}
		default:
			done <- answer{"PASS", d}
		}
	}()
	select {
	case a := <-done:
		return a.status, a.detail
	case <-time.After(60 * time.Second):
		return "FAIL", "case did not finish in 60 s"
	}
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\r", " ")
	s = strings.ReplaceAll(s, "\n", " | ")
	if s == "" {
		s = "-"
	}
	return s
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// runLoad calls sayHello from threads goroutines for seconds seconds.
func runLoad(out *os.File, e *env, seconds, threads int) int {
	if threads < 1 {
		threads = 1
	}
	var (
		ok, failed atomic.Int64
		mu         sync.Mutex
		errs       []string
		seen       = map[string]bool{}
		wg         sync.WaitGroup
	)
	deadline := time.Now().Add(time.Duration(seconds) * time.Second)
	for t := 0; t < threads; t++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				got, err := callOnce(e, "sayHello", "load")
				if err == nil && got == "Hello load" {
					ok.Add(1)
					continue
				}
				failed.Add(1)
				msg := ""
				if err != nil {
					msg = oneLine(err.Error())
				} else {
					msg = fmt.Sprintf("sayHello(\"load\") = %#v", got)
				}
				key := msg
				if len(key) > 120 {
					key = key[:120]
				}
				mu.Lock()
				if !seen[key] && len(errs) < 5 {
					seen[key] = true
					errs = append(errs, msg)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	fmt.Fprintf(out, "LOAD ok=%d failed=%d\n", ok.Load(), failed.Load())
	for _, m := range errs {
		fmt.Fprintf(out, "LOADERR %s\n", m)
	}
	if failed.Load() > 0 {
		return 1
	}
	return 0
}

func callOnce(e *env, method string, args ...any) (out any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic: %v", r)
			fmt.Fprintf(os.Stderr, "go consumer: panic in a call: %v\n%s", r, debug.Stack())
		}
	}()
	err = e.invoke(context.Background(), e.demo, args, &out, method, e.callTimeout())
	return out, err
}
