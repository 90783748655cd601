package peer

import (
	"fmt"
	"reflect"
)

import (
	hessian "github.com/apache/dubbo-go-hessian2"
)

// Object wraps an argument for a Java parameter declared as java.lang.Object.
//
// dubbo-go derives the request's parameter descriptor from each Go argument's
// type (int32 -> "I", string -> "Ljava/lang/String;", a POJO -> its class),
// and Java Dubbo finds the method by name *and* descriptor. So
// DemoService.echo(Object) called with a plain Go string would be looked up
// as echo(String) and not be found on a Java provider. dubbo-go-hessian2's
// Param interface (JavaParamName) overrides the descriptor; a serializer
// registered for the wrapper's (never transmitted) class name writes the
// wrapped value in its place, so only the descriptor changes.
type Object struct {
	Value any
}

const objectArgClass = "org.dubboc.interop.go.ObjectArg"

// JavaClassName is only a key for the serializer below; it never goes on
// the wire.
func (Object) JavaClassName() string { return objectArgClass }

// JavaParamName is what goes into the descriptor.
func (Object) JavaParamName() string { return "java.lang.Object" }

type objectArgSerializer struct{}

func (objectArgSerializer) EncObject(e *hessian.Encoder, p hessian.POJO) error {
	switch a := p.(type) {
	case *Object:
		return e.Encode(a.Value)
	case Object:
		return e.Encode(a.Value)
	}
	return fmt.Errorf("ObjectArg serializer given %T", p)
}

func (objectArgSerializer) DecObject(*hessian.Decoder, reflect.Type, *hessian.ClassInfo) (any, error) {
	return nil, fmt.Errorf("%s is never sent, so never decoded", objectArgClass)
}

func registerObjectArg() {
	hessian.SetSerializer(objectArgClass, objectArgSerializer{})
}
