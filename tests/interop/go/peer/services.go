package peer

import (
	"context"
	"errors"
	"fmt"
	"time"
)

import (
	"dubbo.apache.org/dubbo-go/v3/common/constant"
)

// Java interface names of the two services.
const (
	DemoInterface = "org.apache.dubbo.demo.DemoService"
	UserInterface = "com.example.UserService"
)

// dubbo-go exports every exported method of the handler; the Java name of
// each comes from MethodMapper. (dubbo-go also registers the name with its
// first letter's case swapped, so "SayHello" would be found anyway; both
// spellings show up in the registered URL's "methods" parameter.)

// DemoService implements org.apache.dubbo.demo.DemoService.
type DemoService struct{}

// MethodMapper gives the Java method names.
func (*DemoService) MethodMapper() map[string]string {
	return map[string]string{
		"SayHello":   "sayHello",
		"Echo":       "echo",
		"Whoami":     "whoami",
		"Sleep":      "sleep",
		"Fail":       "fail",
		"Attachment": "attachment",
		"Peer":       "peer",
	}
}

// attachments returns the request's attachments as dubbo-go hands them to a
// method with a context parameter (nil when there are none).
//
// On the Dubbo protocol dubbo-go's getty server adds "local-addr" and
// "remote-addr" (ip:port strings of this connection) to them before the
// call, and the provider answers with this same map as the response
// attachments: every request attachment, plus those two, plus whatever the
// method adds to it, is echoed back to the consumer.
func attachments(ctx context.Context) map[string]any {
	m, _ := ctx.Value(constant.AttachmentKey).(map[string]any)
	return m
}

// SayHello is String sayHello(String name).
func (*DemoService) SayHello(_ context.Context, name string) (string, error) {
	return "Hello " + name, nil
}

// Echo is Object echo(Object v).
func (*DemoService) Echo(_ context.Context, v any) (any, error) {
	// dubbo-go passes a null argument as a pointer to a new zero value of
	// the parameter type; for "any" that is a *any holding nil
	if p, ok := v.(*any); ok && p != nil {
		return *p, nil
	}
	return v, nil
}

// Whoami is String whoami(): this end of the connection, ip:port.
func (*DemoService) Whoami(ctx context.Context) (string, error) {
	if a, ok := attachments(ctx)[constant.LocalAddr].(string); ok && a != "" {
		return a, nil
	}
	return "", errors.New("dubbo-go gave no local address for this call")
}

// Sleep is void sleep(int ms).
func (*DemoService) Sleep(_ context.Context, ms int32) error {
	time.Sleep(time.Duration(ms) * time.Millisecond)
	return nil
}

// Fail is String fail(String msg): it returns a plain Go error. dubbo-go
// sends any error that is not a hessian java_exception.Throwabler as a
// java.lang.Throwable whose detailMessage is err.Error().
func (*DemoService) Fail(_ context.Context, msg string) (string, error) {
	return "", errors.New(msg)
}

// Attachment is String attachment(String key): the consumer's attachment
// key (null when absent), also set as the response attachment "echo-"+key.
func (*DemoService) Attachment(ctx context.Context, key string) (*string, error) {
	atts := attachments(ctx)
	v, ok := atts[key]
	if !ok || v == nil {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprint(v)
	}
	// the response attachments are this very map (see attachments above)
	atts["echo-"+key] = s
	return &s, nil
}

// Peer is String peer(): the consumer's address as seen here, ip:port.
func (*DemoService) Peer(ctx context.Context) (string, error) {
	if a, ok := attachments(ctx)[constant.RemoteAddr].(string); ok && a != "" {
		return a, nil
	}
	return "", errors.New("dubbo-go gave no remote address for this call")
}

// UserService implements com.example.UserService.
type UserService struct{}

// MethodMapper gives the Java method names.
func (*UserService) MethodMapper() map[string]string {
	return map[string]string{
		"Echo":   "echo",
		"Sample": "sample",
		"Check":  "check",
	}
}

// Echo is User echo(User u).
func (*UserService) Echo(_ context.Context, u *User) (*User, error) {
	return u, nil
}

// Sample is User sample().
func (*UserService) Sample(context.Context) (*User, error) {
	return Sample(), nil
}

// Check is String check(User u): "ok" or the first differing field.
func (*UserService) Check(_ context.Context, u *User) (string, error) {
	if d := Diff(u, Sample()); d != "" {
		return d, nil
	}
	return "ok", nil
}
