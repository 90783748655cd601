package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strconv"
	"strings"
	"time"
)

import (
	"dubbo.apache.org/dubbo-go/v3/client"
	"dubbo.apache.org/dubbo-go/v3/common/constant"

	hessian "github.com/apache/dubbo-go-hessian2"
	"github.com/apache/dubbo-go-hessian2/java8_time"
	"github.com/apache/dubbo-go-hessian2/java_exception"

	gxbig "github.com/dubbogo/gost/math/big"
)

import (
	"dubbo-c/interop/go/peer"
)

type caseFunc func(e *env) (string, error)

var caseTable = map[string]caseFunc{
	"say_hello":       caseSayHello,
	"echo_string":     echoCase("héllo ✓ 😀", "String"),
	"echo_int":        echoCase(int32(-123456), "Integer"),
	"echo_long":       echoCase(int64(9007199254740993), "Long"),
	"echo_double":     echoCase(float64(3.25), "Double"),
	"echo_null":       caseEchoNull,
	"echo_list":       caseEchoList,
	"echo_map":        caseEchoMap,
	"echo_bytes":      caseEchoBytes,
	"echo_date":       caseEchoDate,
	"echo_bigdecimal": caseEchoBigDecimal,
	"echo_user":       caseEchoUser,
	"user_echo":       caseUserEcho,
	"user_sample":     caseUserSample,
	"user_check":      caseUserCheck,
	"whoami":          caseWhoami,
	"exception":       caseException,
	"generic":         caseGeneric,
	"generic_user":    caseGenericUser,
	"echo_service":    caseEchoService,
	"attachments":     caseAttachments,
	"timeout":         caseTimeout,
	"heartbeat":       caseHeartbeat,
}

// conn returns a reference or the error that made it unavailable.
func (e *env) conn(name string) (*client.Connection, error) {
	var c *client.Connection
	switch name {
	case "demo":
		c = e.demo
	case "user":
		c = e.user
	case "demo generic":
		c = e.demoGeneric
	case "user generic":
		c = e.userGeneric
	}
	if c == nil {
		if err := e.dialErr[name]; err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("no %s reference", name)
	}
	return c, nil
}

func call(e *env, ref, method string, args ...any) (any, error) {
	c, err := e.conn(ref)
	if err != nil {
		return nil, err
	}
	var out any
	err = e.invoke(context.Background(), c, args, &out, method, e.callTimeout())
	return out, err
}

// callNoRetry is for calls that fail on purpose: on the Dubbo protocol
// dubbo-go's failover cluster takes every error, a business exception
// included, as a reason to retry (its isBizError only knows Triple errors),
// so with the default retries=2 the provider would see the call 3 times.
func callNoRetry(e *env, ref, method string, args ...any) (any, error) {
	c, err := e.conn(ref)
	if err != nil {
		return nil, err
	}
	var out any
	err = e.invoke(context.Background(), c, args, &out, method, e.callTimeout(), client.WithCallRetries(0))
	return out, err
}

func caseSayHello(e *env) (string, error) {
	got, err := call(e, "demo", "sayHello", "world")
	if err != nil {
		return "", err
	}
	if got != "Hello world" {
		return "", fmt.Errorf("got %s", show(got))
	}
	return show(got), nil
}

// echoCase sends v as DemoService.echo(Object) and wants the same value of
// the same Java type back.
func echoCase(v any, javaType string) caseFunc {
	return func(e *env) (string, error) {
		got, err := call(e, "demo", "echo", peer.Object{Value: v})
		if err != nil {
			return "", err
		}
		if !reflect.DeepEqual(got, v) {
			return "", fmt.Errorf("sent %s, got %s", show(v), show(got))
		}
		if jt := javaTypeOf(got); jt != javaType {
			return "", fmt.Errorf("got %s, want type %s", show(got), javaType)
		}
		return show(got), nil
	}
}

func caseEchoNull(e *env) (string, error) {
	got, err := call(e, "demo", "echo", peer.Object{Value: nil})
	if err != nil {
		return "", err
	}
	if got != nil {
		return "", fmt.Errorf("got %s", show(got))
	}
	return "null", nil
}

func caseEchoList(e *env) (string, error) {
	sent := []any{int32(1), "two", float64(3.0)}
	got, err := call(e, "demo", "echo", peer.Object{Value: sent})
	if err != nil {
		return "", err
	}
	l, ok := got.([]any)
	if !ok || !reflect.DeepEqual(l, sent) {
		return "", fmt.Errorf("sent %s, got %s", show(sent), show(got))
	}
	return show(got), nil
}

func caseEchoMap(e *env) (string, error) {
	sent := map[any]any{"a": int32(1), "b": "x"}
	got, err := call(e, "demo", "echo", peer.Object{Value: sent})
	if err != nil {
		return "", err
	}
	m, ok := got.(map[any]any)
	if !ok || !reflect.DeepEqual(m, sent) {
		return "", fmt.Errorf("sent %s, got %s", show(sent), show(got))
	}
	return show(got), nil
}

func caseEchoBytes(e *env) (string, error) {
	sent := make([]byte, 256)
	for i := range sent {
		sent[i] = byte(i)
	}
	got, err := call(e, "demo", "echo", peer.Object{Value: sent})
	if err != nil {
		return "", err
	}
	b, ok := got.([]byte)
	if !ok || !bytes.Equal(b, sent) {
		return "", fmt.Errorf("sent byte[256] 0..255, got %s", show(got))
	}
	return "byte[256] 0..255", nil
}

func caseEchoDate(e *env) (string, error) {
	sent := time.UnixMilli(peer.SampleCreated)
	got, err := call(e, "demo", "echo", peer.Object{Value: sent})
	if err != nil {
		return "", err
	}
	t, ok := got.(time.Time)
	if !ok || t.UnixMilli() != sent.UnixMilli() {
		return "", fmt.Errorf("sent %s, got %s", show(sent), show(got))
	}
	return show(got), nil
}

func caseEchoBigDecimal(e *env) (string, error) {
	const text = "3.14159265358979323846"
	got, err := call(e, "demo", "echo", peer.Object{Value: peer.MustDecimal(text)})
	if err != nil {
		return "", err
	}
	d, ok := got.(*gxbig.Decimal)
	if !ok || d.String() != text {
		return "", fmt.Errorf("sent BigDecimal(%s), got %s", text, show(got))
	}
	return show(got), nil
}

func asUser(got any) (*peer.User, error) {
	switch u := got.(type) {
	case *peer.User:
		return u, nil
	case peer.User:
		return &u, nil
	}
	return nil, fmt.Errorf("got %s, not a com.example.User", show(got))
}

func caseEchoUser(e *env) (string, error) {
	got, err := call(e, "demo", "echo", peer.Object{Value: peer.Sample()})
	if err != nil {
		return "", err
	}
	u, err := asUser(got)
	if err != nil {
		return "", err
	}
	if d := peer.Diff(u, peer.Sample()); d != "" {
		return "", errors.New(d)
	}
	return "equals the sample", nil
}

func caseUserEcho(e *env) (string, error) {
	got, err := call(e, "user", "echo", peer.Sample())
	if err != nil {
		return "", err
	}
	u, err := asUser(got)
	if err != nil {
		return "", err
	}
	if d := peer.Diff(u, peer.Sample()); d != "" {
		return "", errors.New(d)
	}
	return "equals the sample", nil
}

// missingMethod tells whether err says the provider has no such
// service or method (dubbo-c has no UserService.sample/check).
func missingMethod(err error) bool {
	s := strings.ToLower(err.Error())
	for _, p := range []string{"not found", "no such", "nosuchmethod", "cannot find", "not exist", "unknown method", "unknown service", "no provider"} {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

func caseUserSample(e *env) (string, error) {
	got, err := call(e, "user", "sample")
	if err != nil {
		if missingMethod(err) {
			return "", errSkip{"provider has no UserService.sample: " + errText(err)}
		}
		return "", err
	}
	u, err := asUser(got)
	if err != nil {
		return "", err
	}
	if d := peer.Diff(u, peer.Sample()); d != "" {
		return "", errors.New(d)
	}
	return "equals the sample", nil
}

func caseUserCheck(e *env) (string, error) {
	got, err := call(e, "user", "check", peer.Sample())
	if err != nil {
		if missingMethod(err) {
			return "", errSkip{"provider has no UserService.check: " + errText(err)}
		}
		return "", err
	}
	if got != "ok" {
		return "", fmt.Errorf("check(sample) = %s", show(got))
	}
	return `"ok"`, nil
}

func isHostPort(s string) bool {
	host, port, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n > 0 && n < 65536
}

func caseWhoami(e *env) (string, error) {
	got, err := call(e, "demo", "whoami")
	if err != nil {
		return "", err
	}
	s, ok := got.(string)
	if !ok || !isHostPort(s) {
		return "", fmt.Errorf("whoami() = %s, want ip:port", show(got))
	}
	return s, nil
}

// thrown finds the Java exception in an error returned by dubbo-go. class
// is "" when dubbo-go-hessian2 decoded an exception class it has no Go type
// for (it loses the name: see peer.DemoException).
func thrown(err error) (class, message string, ok bool) {
	var t java_exception.Throwabler
	if !errors.As(err, &t) {
		return "", "", false
	}
	class = t.JavaClassName()
	v := reflect.Indirect(reflect.ValueOf(t))
	if v.Kind() == reflect.Struct {
		if f := v.FieldByName("DetailMessage"); f.IsValid() && f.Kind() == reflect.String {
			return class, f.String(), true
		}
	}
	return class, t.Error(), true
}

func errText(err error) string {
	if class, msg, ok := thrown(err); ok {
		return fmt.Sprintf("%s: %s", orUnknown(class), msg)
	}
	return err.Error()
}

func orUnknown(class string) string {
	if class == "" {
		return "<unregistered exception class: name lost by dubbo-go-hessian2>"
	}
	return class
}

func caseException(e *env) (string, error) {
	got, err := callNoRetry(e, "demo", "fail", "boom")
	if err == nil {
		return "", fmt.Errorf("fail(\"boom\") returned %s, no exception", show(got))
	}
	class, msg, ok := thrown(err)
	if !ok {
		return "", fmt.Errorf("no Java exception decoded: %T %v", err, err)
	}
	seen := fmt.Sprintf("class=%s message=%q", orUnknown(class), msg)
	if e.o.expect != "" && class != e.o.expect {
		return "", fmt.Errorf("want %s, got %s", e.o.expect, seen)
	}
	if msg != "boom" {
		return "", fmt.Errorf("want message \"boom\", got %s", seen)
	}
	return seen, nil
}

// genericCall is GenericService.$invoke(method, types, args) on iface
// ("demo" or "user"); how depends on the mode:
//   - direct: through a reference made with client.WithGeneric(), dubbo-go's
//     generic reference (its generic filter adds the "generic" attachment);
//   - through ZooKeeper: a second reference to an interface that already
//     has one never gets providers in dubbo-go 3.3.1 (its ZooKeeper
//     registry keeps one listener per service key, and the two references'
//     directories compete for its events), so the call goes through the
//     plain reference with the "generic": "true" attachment the generic
//     filter would have added.
func genericCall(e *env, iface, method string, types []string, args []hessian.Object) (any, string, error) {
	if e.o.url != "" {
		got, err := call(e, iface+" generic", constant.Generic, method, types, args)
		return got, "generic reference", err
	}
	c, err := e.conn(iface)
	if err != nil {
		return nil, "", err
	}
	ctx := context.WithValue(context.Background(), constant.AttachmentKey,
		map[string]any{constant.GenericKey: constant.GenericSerializationDefault})
	var out any
	err = e.invoke(ctx, c, []any{method, types, args}, &out, constant.Generic, e.callTimeout())
	return out, "plain reference + generic=true attachment", err
}

func caseGeneric(e *env) (string, error) {
	got, how, err := genericCall(e, "demo", "sayHello", []string{"java.lang.String"}, []hessian.Object{"world"})
	if err != nil {
		return "", err
	}
	if got != "Hello world" {
		return "", fmt.Errorf("$invoke(sayHello, [java.lang.String], [world]) = %s", show(got))
	}
	return show(got) + " via " + how, nil
}

// genericUser is the sample as Java Dubbo's generic calls carry a POJO: a
// map of its fields plus "class".
func genericUser(u *peer.User) map[string]any {
	if u == nil {
		return nil
	}
	m := map[string]any{
		"class": "com.example.User",
		"name":  u.Name,
		"age":   u.Age,
		"id":    u.Id,
	}
	if u.Balance != nil {
		m["balance"] = u.Balance
	}
	if u.Big != nil {
		m["big"] = u.Big
	}
	if u.Born != nil {
		m["born"] = u.Born
	}
	if u.LastLogin != nil {
		m["lastLogin"] = u.LastLogin
	}
	if u.Created != nil {
		m["created"] = *u.Created
	}
	if u.Small != nil {
		m["small"] = *u.Small
	}
	if u.Tiny != nil {
		m["tiny"] = *u.Tiny
	}
	if u.Ratio != nil {
		m["ratio"] = *u.Ratio
	}
	if u.Color != nil {
		// the hessian enum object, not Java generic's usual "GREEN": the
		// dubbo-go provider's generic realization (mapstructure) cannot turn
		// a string into a Go enum type and fails the whole call
		m["color"] = *u.Color
	}
	if u.Avatar != nil {
		m["avatar"] = u.Avatar
	}
	if u.Friends != nil {
		l := make([]any, 0, len(u.Friends))
		for _, f := range u.Friends {
			l = append(l, genericUser(f))
		}
		m["friends"] = l
	}
	if u.ByName != nil {
		bm := map[string]any{}
		for k, f := range u.ByName {
			bm[k] = genericUser(f)
		}
		m["byName"] = bm
	}
	if u.Manager != nil {
		m["manager"] = genericUser(u.Manager)
	}
	return m
}

func caseGenericUser(e *env) (string, error) {
	got, how, err := genericCall(e, "user", "echo", []string{"com.example.User"},
		[]hessian.Object{genericUser(peer.Sample())})
	if err != nil {
		return "", err
	}
	var name any
	switch v := got.(type) {
	case map[any]any:
		name = v["name"]
	case map[string]any:
		name = v["name"]
	case *peer.User:
		name = v.Name
	default:
		return "", fmt.Errorf("$invoke(echo, [com.example.User], [map]) = %s, not a map", show(got))
	}
	if name != peer.SampleName {
		return "", fmt.Errorf("answer's name = %s", show(name))
	}
	return fmt.Sprintf("%s, name %q, via %s", javaTypeOf(got), name, how), nil
}

func caseEchoService(e *env) (string, error) {
	got, err := call(e, "demo", constant.Echo, peer.Object{Value: "ping"})
	if err != nil {
		return "", err
	}
	if got != "ping" {
		return "", fmt.Errorf("$echo(\"ping\") = %s", show(got))
	}
	return show(got), nil
}

func caseAttachments(e *env) (string, error) {
	c, err := e.conn("demo")
	if err != nil {
		return "", err
	}
	ctx := context.WithValue(context.Background(), constant.AttachmentKey, map[string]any{"dubbo-c-test": "v1"})
	var resp map[string]any
	ctx = peer.WithResponseAttachments(ctx, &resp)
	var out any
	if err := e.invoke(ctx, c, []any{"dubbo-c-test"}, &out, "attachment", e.callTimeout()); err != nil {
		return "", err
	}
	if out != "v1" {
		return "", fmt.Errorf("attachment(\"dubbo-c-test\") = %s, want \"v1\"", show(out))
	}
	if resp["echo-dubbo-c-test"] != "v1" {
		return "", fmt.Errorf("response attachment echo-dubbo-c-test = %s; response attachments %s",
			show(resp["echo-dubbo-c-test"]), show(resp))
	}
	return fmt.Sprintf("value \"v1\", response attachment echo-dubbo-c-test=\"v1\" (%d response attachments)", len(resp)), nil
}

// caseTimeout: reference timeout=500. In dubbo-go 3.3.1 the timeout that
// counts for CallUnary is the call option's (see env.callTimeout), and a
// second reference to the interface gets no providers through ZooKeeper
// (see genericCall), so this is the main reference with a 500 ms call
// timeout and no retries (failover would otherwise send sleep three times).
func caseTimeout(e *env) (string, error) {
	c, err := e.conn("demo")
	if err != nil {
		return "", err
	}
	var out any
	start := time.Now()
	err = e.invoke(context.Background(), c, []any{int32(3000)}, &out, "sleep",
		client.WithCallRequestTimeout(500*time.Millisecond), client.WithCallRetries(0))
	took := time.Since(start)
	if err == nil {
		return "", fmt.Errorf("sleep(3000) with timeout=500 returned after %d ms, no timeout", took.Milliseconds())
	}
	if took < 400*time.Millisecond || took > 2000*time.Millisecond {
		return "", fmt.Errorf("sleep(3000) failed after %d ms, want 400-2000 ms: %v", took.Milliseconds(), err)
	}
	var hello any
	if err2 := e.invoke(context.Background(), c, []any{"world"}, &hello, "sayHello", e.callTimeout()); err2 != nil || hello != "Hello world" {
		return "", fmt.Errorf("timed out after %d ms, then sayHello = %s, %v", took.Milliseconds(), show(hello), err2)
	}
	return fmt.Sprintf("timed out after %d ms: %s; then sayHello ok", took.Milliseconds(), errText(err)), nil
}

func caseHeartbeat(e *env) (string, error) {
	first, err := call(e, "demo", "peer")
	if err != nil {
		return "", err
	}
	time.Sleep(5 * time.Second)
	second, err := call(e, "demo", "peer")
	if err != nil {
		return "", fmt.Errorf("peer() after 5 s idle: %v (first answer %s)", err, show(first))
	}
	if first != second || !isHostPort(fmt.Sprint(first)) {
		return "", fmt.Errorf("peer() = %s, after 5 s idle %s: the connection was not kept", show(first), show(second))
	}
	return fmt.Sprintf("same connection %v after 5 s idle", first), nil
}

// javaTypeOf names the Java type a decoded value stands for.
func javaTypeOf(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return "String"
	case int32:
		return "Integer"
	case int64:
		return "Long"
	case int:
		return "Long(int)"
	case float64:
		return "Double"
	case float32:
		return "Float"
	case bool:
		return "Boolean"
	case []byte:
		return "byte[]"
	case time.Time:
		return "Date"
	case []any:
		return "List"
	case map[any]any:
		return "Map"
	case *gxbig.Decimal:
		return "BigDecimal"
	case *gxbig.Integer:
		return "BigInteger"
	case *java8_time.LocalDate:
		return "LocalDate"
	case *java8_time.LocalDateTime:
		return "LocalDateTime"
	case hessian.POJO:
		return x.JavaClassName()
	}
	return fmt.Sprintf("Go %T", v)
}

// show renders a decoded value with its Java type, on one line.
func show(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return strconv.Quote(x) + " (String)"
	case []byte:
		if len(x) > 16 {
			return fmt.Sprintf("byte[%d] %x...", len(x), x[:16])
		}
		return fmt.Sprintf("byte[%d] %x", len(x), x)
	case time.Time:
		return fmt.Sprintf("Date(%d)", x.UnixMilli())
	case *gxbig.Decimal:
		if x == nil {
			return "null"
		}
		return "BigDecimal(" + x.String() + ")"
	case *peer.User:
		if x == nil {
			return "null"
		}
		return fmt.Sprintf("com.example.User{name %q, age %d}", x.Name, x.Age)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = show(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[any]any:
		parts := make([]string, 0, len(x))
		for k, e := range x {
			parts = append(parts, fmt.Sprintf("%v: %s", k, show(e)))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	case map[string]any:
		parts := make([]string, 0, len(x))
		for k, e := range x {
			parts = append(parts, fmt.Sprintf("%v: %s", k, show(e)))
		}
		return "{" + strings.Join(parts, ", ") + "}"
	}
	s := fmt.Sprintf("%v (%s)", v, javaTypeOf(v))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
