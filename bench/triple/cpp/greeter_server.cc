// The grpc C++ side of the Triple benchmark (bench/run-triple.sh):
// helloworld.Greeter from tools/proto/helloworld.proto (SayHello, and
// SayHelloStream with the demo provider's three replies "Hello <name> 0..2")
// and grpc.testing.TestService's StreamingOutputCall (one response of
// `size` zero bytes per ResponseParameters entry, as gRPC's interop servers
// answer; the other methods are left UNIMPLEMENTED).
//
//   greeter_server_cpp [--addr 127.0.0.1:50051] [--api sync|callback]
//
// --api picks grpc C++'s server API for the Greeter: "sync" (the default,
// handlers on grpc's own thread pool) or "callback" (handlers on grpc's
// event-engine threads, no hand-off). TestService is always sync. Prints
// "listening on ADDR" once it accepts calls; runs until killed.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>

#include "grpc/testing/test.grpc.pb.h"
#include "helloworld.grpc.pb.h"

namespace {

std::string hello(const helloworld::HelloRequest &req) { return "Hello " + req.name(); }

void stream_replies(const helloworld::HelloRequest &req,
                    grpc::ServerWriter<helloworld::HelloReply> *out)
{
    helloworld::HelloReply reply;
    for (int i = 0; i < 3; i++) {
        // the demo provider cuts the name at 256 bytes; so do we
        reply.set_message("Hello " + req.name().substr(0, 256) + " " + std::to_string(i));
        if (!out->Write(reply)) return;
    }
}

class SyncGreeter : public helloworld::Greeter::Service {
    grpc::Status SayHello(grpc::ServerContext *, const helloworld::HelloRequest *req,
                          helloworld::HelloReply *reply) override
    {
        reply->set_message(hello(*req));
        return grpc::Status::OK;
    }
    grpc::Status SayHelloStream(grpc::ServerContext *, const helloworld::HelloRequest *req,
                                grpc::ServerWriter<helloworld::HelloReply> *out) override
    {
        stream_replies(*req, out);
        return grpc::Status::OK;
    }
};

// Unary SayHello on the callback API; SayHelloStream stays sync (the
// generated WithCallbackMethod_SayHello mixes the two in one service).
class CallbackGreeter final
    : public helloworld::Greeter::WithCallbackMethod_SayHello<SyncGreeter> {
    grpc::ServerUnaryReactor *SayHello(grpc::CallbackServerContext *ctx,
                                       const helloworld::HelloRequest *req,
                                       helloworld::HelloReply *reply) override
    {
        reply->set_message(hello(*req));
        grpc::ServerUnaryReactor *r = ctx->DefaultReactor();
        r->Finish(grpc::Status::OK);
        return r;
    }
};

class Streams final : public grpc::testing::TestService::Service {
    grpc::Status StreamingOutputCall(
        grpc::ServerContext *, const grpc::testing::StreamingOutputCallRequest *req,
        grpc::ServerWriter<grpc::testing::StreamingOutputCallResponse> *out) override
    {
        grpc::testing::StreamingOutputCallResponse resp;
        for (const auto &p : req->response_parameters()) {
            if (p.size() < 0) return {grpc::StatusCode::INVALID_ARGUMENT, "negative size"};
            resp.mutable_payload()->set_body(std::string(static_cast<size_t>(p.size()), '\0'));
            if (!out->Write(resp)) break;
        }
        return grpc::Status::OK;
    }
};

int usage(const char *who)
{
    std::fprintf(stderr, "usage: %s [--addr HOST:PORT] [--api sync|callback]\n", who);
    return 2;
}

} // namespace

int main(int argc, char **argv)
{
    std::string addr = "127.0.0.1:50051";
    std::string api = "sync";
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && std::strcmp(argv[i], "--addr") == 0)
            addr = argv[++i];
        else if (i + 1 < argc && std::strcmp(argv[i], "--api") == 0)
            api = argv[++i];
        else
            return usage(argv[0]);
    }
    std::unique_ptr<grpc::Service> greeter;
    if (api == "sync")
        greeter = std::make_unique<SyncGreeter>();
    else if (api == "callback")
        greeter = std::make_unique<CallbackGreeter>();
    else
        return usage(argv[0]);
    Streams streams;
    grpc::ServerBuilder builder;
    builder.AddListeningPort(addr, grpc::InsecureServerCredentials());
    builder.RegisterService(greeter.get());
    builder.RegisterService(&streams);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    if (!server) {
        std::fprintf(stderr, "greeter_server_cpp: cannot listen on %s\n", addr.c_str());
        return 1;
    }
    std::printf("listening on %s\n", addr.c_str());
    std::fflush(stdout);
    server->Wait();
    return 0;
}
