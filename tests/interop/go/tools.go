//go:build tools

// Pins the code generator of tripeer/helloworld.pb.go in go.mod: the
// protoc-gen-go of the google.golang.org/protobuf version dubbo-go 3.3.1
// builds with (how to regenerate: tripeer/generate.sh).
package tools

import (
	_ "google.golang.org/protobuf/cmd/protoc-gen-go"
)
