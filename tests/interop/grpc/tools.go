//go:build tools

// Package tools pins the third-party gRPC tools that the Triple tests run.
// It is never compiled: the blank imports only keep the tools' main
// packages (and so their versions) in go.mod and go.sum. build.sh builds
// each of them by its import path.
package tools

import (
	_ "github.com/bojand/ghz/cmd/ghz"
	_ "github.com/fullstorydev/grpcurl/cmd/grpcurl"
	_ "github.com/summerwind/h2spec/cmd/h2spec"
	_ "google.golang.org/grpc/interop/client"
	_ "google.golang.org/grpc/interop/server"
)
