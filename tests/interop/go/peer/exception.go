package peer

import (
	hessian "github.com/apache/dubbo-go-hessian2"
	"github.com/apache/dubbo-go-hessian2/java_exception"
)

// DemoException is org.apache.dubbo.demo.DemoException, what the Java
// provider's fail(msg) throws. dubbo-go-hessian2 decodes an exception class
// it has no Go type for into an UnknownException whose class name is lost
// (its unexported name field stays empty: Error() is "throw  : msg" and
// JavaClassName() is ""), so a consumer that wants to see the class must
// register a type for it. java.lang.Throwable, RuntimeException,
// IllegalStateException and the other java_exception types are registered
// by dubbo-go-hessian2 itself.
type DemoException struct {
	SerialVersionUID     int64
	DetailMessage        string
	SuppressedExceptions []java_exception.Throwabler
	StackTrace           []java_exception.StackTraceElement
	Cause                java_exception.Throwabler
}

// Error is the Java message.
func (e DemoException) Error() string { return e.DetailMessage }

// JavaClassName names the Java class.
func (DemoException) JavaClassName() string { return "org.apache.dubbo.demo.DemoException" }

// GetStackTrace is the Java stack trace.
func (e DemoException) GetStackTrace() []java_exception.StackTraceElement { return e.StackTrace }

func init() {
	hessian.RegisterPOJO(&DemoException{})
}
