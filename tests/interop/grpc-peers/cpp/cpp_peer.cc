// The C++ gRPC peer of the Triple proof: grpc C++ 1.51 (Debian's
// libgrpc++-dev), stubs made by protoc and grpc_cpp_plugin from the
// project's protos (tools/proto) by build.sh. Written for dubbo-c.
//
//   cpp_peer client --server HOST:PORT [--cases a,b,...] [--timeout S]
//       runs the cases (kCases below) against the server, one line each:
//       "PASS <case>" or "FAIL <case>: <reason>"; exit 0 iff all passed
//   cpp_peer server [--port N] [--host ADDR]
//       serves grpc.testing.TestService (as gRPC's interop server does) and
//       helloworld.Greeter, prints "LISTENING <port>" when ready (port 0, the
//       default, picks one), runs until SIGTERM/SIGINT
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "grpc/testing/test.grpc.pb.h"
#include "helloworld.grpc.pb.h"

namespace gt = grpc::testing;

namespace
{

const char kEchoInitial[] = "x-grpc-test-echo-initial";
const char kEchoTrailing[] = "x-grpc-test-echo-trailing-bin";
const char kInitialValue[] = "test_initial_metadata_value";
const std::string kTrailingValue("\xab\xab\xab", 3);
const int kReqSizes[] = {27182, 8, 1828, 45904};
const int kRespSizes[] = {31415, 9, 2653, 58979};

// ---- the server ---------------------------------------------------------------------------

// Echo the x-grpc-test-echo-* metadata: the initial value as a header, the
// trailing one as a trailer.
void Echo(grpc::ServerContext *ctx)
{
    const auto &md = ctx->client_metadata();
    auto i = md.find(kEchoInitial);
    if (i != md.end())
        ctx->AddInitialMetadata(kEchoInitial, std::string(i->second.data(), i->second.size()));
    auto t = md.find(kEchoTrailing);
    if (t != md.end())
        ctx->AddTrailingMetadata(kEchoTrailing, std::string(t->second.data(), t->second.size()));
}

// The status a request's response_status asks for (OK when none).
template <typename Req> grpc::Status AskedStatus(const Req &req)
{
    if (!req.has_response_status() || req.response_status().code() == 0) return grpc::Status::OK;
    return grpc::Status(static_cast<grpc::StatusCode>(req.response_status().code()),
                        req.response_status().message());
}

// Write the responses one request asks for, each after its interval.
template <typename Writer>
grpc::Status WriteResponses(const gt::StreamingOutputCallRequest &req, Writer *w)
{
    grpc::Status s = AskedStatus(req);
    if (!s.ok()) return s;
    for (const auto &p : req.response_parameters()) {
        if (p.interval_us() > 0)
            std::this_thread::sleep_for(std::chrono::microseconds(p.interval_us()));
        gt::StreamingOutputCallResponse r;
        r.mutable_payload()->set_body(std::string(p.size(), '\0'));
        if (!w->Write(r)) return grpc::Status(grpc::StatusCode::CANCELLED, "the client went away");
    }
    return grpc::Status::OK;
}

class TestServiceImpl final : public gt::TestService::Service
{
    grpc::Status EmptyCall(grpc::ServerContext *ctx, const gt::Empty *, gt::Empty *) override
    {
        Echo(ctx);
        return grpc::Status::OK;
    }

    grpc::Status UnaryCall(grpc::ServerContext *ctx, const gt::SimpleRequest *req,
                           gt::SimpleResponse *resp) override
    {
        Echo(ctx);
        grpc::Status s = AskedStatus(*req);
        if (!s.ok()) return s;
        if (req->response_size() < 0)
            return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "response_size is negative");
        resp->mutable_payload()->set_body(std::string(req->response_size(), '\0'));
        return grpc::Status::OK;
    }

    grpc::Status
    StreamingOutputCall(grpc::ServerContext *ctx, const gt::StreamingOutputCallRequest *req,
                        grpc::ServerWriter<gt::StreamingOutputCallResponse> *w) override
    {
        Echo(ctx);
        return WriteResponses(*req, w);
    }

    grpc::Status StreamingInputCall(grpc::ServerContext *,
                                    grpc::ServerReader<gt::StreamingInputCallRequest> *r,
                                    gt::StreamingInputCallResponse *resp) override
    {
        gt::StreamingInputCallRequest req;
        int total = 0;
        while (r->Read(&req))
            total += static_cast<int>(req.payload().body().size());
        resp->set_aggregated_payload_size(total);
        return grpc::Status::OK;
    }

    grpc::Status FullDuplexCall(
        grpc::ServerContext *ctx,
        grpc::ServerReaderWriter<gt::StreamingOutputCallResponse, gt::StreamingOutputCallRequest>
            *rw) override
    {
        Echo(ctx);
        gt::StreamingOutputCallRequest req;
        while (rw->Read(&req)) {
            grpc::Status s = WriteResponses(req, rw);
            if (!s.ok()) return s;
        }
        return grpc::Status::OK;
    }
};

class GreeterImpl final : public helloworld::Greeter::Service
{
    grpc::Status SayHello(grpc::ServerContext *, const helloworld::HelloRequest *req,
                          helloworld::HelloReply *resp) override
    {
        resp->set_message("Hello " + req->name());
        return grpc::Status::OK;
    }

    grpc::Status SayHelloStream(grpc::ServerContext *, const helloworld::HelloRequest *req,
                                grpc::ServerWriter<helloworld::HelloReply> *w) override
    {
        for (int i = 0; i < 3; i++) {
            helloworld::HelloReply r;
            r.set_message("Hello " + req->name() + " " + std::to_string(i));
            if (!w->Write(r)) break;
        }
        return grpc::Status::OK;
    }
};

int Serve(const std::string &host, int port)
{
    // SIGTERM/SIGINT are waited for by sigwait: blocked before gRPC starts
    // its threads, so that they inherit the mask
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

    TestServiceImpl test;
    GreeterImpl greeter;
    grpc::ServerBuilder b;
    int selected = 0;
    std::string addr = (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
                       std::to_string(port);
    b.AddListeningPort(addr, grpc::InsecureServerCredentials(), &selected);
    b.SetMaxReceiveMessageSize(8 << 20);
    b.RegisterService(&test);
    b.RegisterService(&greeter);
    std::unique_ptr<grpc::Server> server = b.BuildAndStart();
    if (!server || !selected) {
        std::fprintf(stderr, "cpp_peer: cannot listen on %s\n", addr.c_str());
        return 1;
    }
    std::printf("LISTENING %d\n", selected);
    std::fflush(stdout);
    int sig;
    sigwait(&sigs, &sig);
    server->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    return 0;
}

// ---- the client ---------------------------------------------------------------------------

struct CaseFailed : std::runtime_error {
    explicit CaseFailed(const std::string &what) : std::runtime_error(what) {}
};

void Check(bool cond, const std::string &what)
{
    if (!cond) throw CaseFailed(what);
}

std::string Describe(const grpc::Status &s)
{
    return "status " + std::to_string(s.error_code()) + " (" + s.error_message() + ")";
}

void CheckOk(const grpc::Status &s, const std::string &what = "")
{
    Check(s.ok(), what + Describe(s));
}

void ExpectStatus(const grpc::Status &s, int code, const char *message)
{
    Check(s.error_code() == code, Describe(s) + ", expected " + std::to_string(code));
    if (message)
        Check(s.error_message() == message,
              "message '" + s.error_message() + "', expected '" + message + "'");
}

std::vector<std::string> Values(const std::multimap<grpc::string_ref, grpc::string_ref> &md,
                                const char *key)
{
    std::vector<std::string> out;
    auto range = md.equal_range(key);
    for (auto i = range.first; i != range.second; ++i)
        out.emplace_back(i->second.data(), i->second.size());
    return out;
}

void CheckEchoed(const grpc::ClientContext &ctx)
{
    auto ini = Values(ctx.GetServerInitialMetadata(), kEchoInitial);
    Check(ini.size() == 1 && ini[0] == kInitialValue,
          "initial metadata echo: " + std::to_string(ini.size()) + " value(s)" +
              (ini.empty() ? "" : " '" + ini[0] + "'"));
    auto tr = Values(ctx.GetServerTrailingMetadata(), kEchoTrailing);
    Check(tr.size() == 1 && tr[0] == kTrailingValue,
          "trailing metadata echo: " + std::to_string(tr.size()) + " value(s)");
}

class Client
{
  public:
    Client(const std::string &server, double timeout) : timeout_(timeout)
    {
        grpc::ChannelArguments args;
        args.SetMaxReceiveMessageSize(8 << 20);
        auto ch = grpc::CreateCustomChannel(server, grpc::InsecureChannelCredentials(), args);
        greeter_ = helloworld::Greeter::NewStub(ch);
        test_ = gt::TestService::NewStub(ch);
    }

    std::map<std::string, std::function<void()>> Cases()
    {
        return {
            {"say_hello", [this] { SayHello(); }},
            {"say_hello_stream", [this] { SayHelloStream(); }},
            {"empty_unary", [this] { EmptyUnary(); }},
            {"large_unary", [this] { LargeUnary(false); }},
            {"gzip_large_unary", [this] { LargeUnary(true); }},
            {"server_streaming", [this] { ServerStreaming(); }},
            {"client_streaming", [this] { ClientStreaming(); }},
            {"ping_pong", [this] { PingPong(); }},
            {"empty_stream", [this] { EmptyStream(); }},
            {"status_code_and_message", [this] { StatusCodeAndMessage(); }},
            {"custom_metadata", [this] { CustomMetadata(); }},
            {"concurrent_calls", [this] { ConcurrentCalls(); }},
            {"large_streams", [this] { LargeStreams(); }},
            {"unimplemented_method", [this] { UnimplementedMethod(); }},
        };
    }

  private:
    void Deadline(grpc::ClientContext *ctx)
    {
        ctx->set_deadline(std::chrono::system_clock::now() +
                          std::chrono::milliseconds(static_cast<long>(timeout_ * 1000)));
    }

    static gt::SimpleRequest LargeRequest()
    {
        gt::SimpleRequest req;
        req.set_response_size(314159);
        req.mutable_payload()->set_body(std::string(271828, '\0'));
        return req;
    }

    static gt::StreamingOutputCallRequest Ping(int resp_size, int req_size)
    {
        gt::StreamingOutputCallRequest req;
        req.add_response_parameters()->set_size(resp_size);
        req.mutable_payload()->set_body(std::string(req_size, '\0'));
        return req;
    }

    void SayHello()
    {
        grpc::ClientContext ctx;
        Deadline(&ctx);
        helloworld::HelloRequest req;
        helloworld::HelloReply resp;
        req.set_name("world");
        CheckOk(greeter_->SayHello(&ctx, req, &resp));
        Check(resp.message() == "Hello world", "message '" + resp.message() + "'");
    }

    void SayHelloStream()
    {
        grpc::ClientContext ctx;
        Deadline(&ctx);
        helloworld::HelloRequest req;
        req.set_name("stream");
        auto r = greeter_->SayHelloStream(&ctx, req);
        helloworld::HelloReply resp;
        std::vector<std::string> got;
        while (r->Read(&resp))
            got.push_back(resp.message());
        CheckOk(r->Finish());
        std::string all;
        for (const auto &m : got)
            all += "'" + m + "' ";
        Check(got == std::vector<std::string>{"Hello stream 0", "Hello stream 1", "Hello stream 2"},
              "replies " + all);
    }

    void EmptyUnary()
    {
        grpc::ClientContext ctx;
        Deadline(&ctx);
        gt::Empty req, resp;
        CheckOk(test_->EmptyCall(&ctx, req, &resp));
    }

    void LargeUnary(bool gzip)
    {
        grpc::ClientContext ctx;
        Deadline(&ctx);
        if (gzip) ctx.set_compression_algorithm(GRPC_COMPRESS_GZIP);
        gt::SimpleResponse resp;
        CheckOk(test_->UnaryCall(&ctx, LargeRequest(), &resp));
        Check(resp.payload().body() == std::string(314159, '\0'),
              "payload of " + std::to_string(resp.payload().body().size()) +
                  " bytes, expected 314159 zeros");
    }

    // A StreamingOutputCall asking for these sizes: the sizes received.
    std::vector<int> StreamingOutput(const std::vector<int> &sizes)
    {
        grpc::ClientContext ctx;
        Deadline(&ctx);
        gt::StreamingOutputCallRequest req;
        for (int n : sizes)
            req.add_response_parameters()->set_size(n);
        auto r = test_->StreamingOutputCall(&ctx, req);
        gt::StreamingOutputCallResponse resp;
        std::vector<int> got;
        while (r->Read(&resp))
            got.push_back(static_cast<int>(resp.payload().body().size()));
        CheckOk(r->Finish());
        return got;
    }

    static std::string Sizes(const std::vector<int> &sizes)
    {
        std::ostringstream out;
        for (int n : sizes)
            out << n << " ";
        return out.str();
    }

    void ServerStreaming()
    {
        std::vector<int> want(std::begin(kRespSizes), std::end(kRespSizes));
        std::vector<int> got = StreamingOutput(want);
        Check(got == want, "sizes " + Sizes(got));
    }

    // 10 unary and 10 server-streaming calls at once on one channel.
    void ConcurrentCalls()
    {
        std::mutex mu;
        std::vector<std::string> errors;
        std::vector<std::thread> threads;
        auto run = [&](const std::string &what, std::function<void()> fn) {
            try {
                fn();
            } catch (const std::exception &e) {
                std::lock_guard<std::mutex> lock(mu);
                errors.push_back(what + ": " + e.what());
            }
        };
        for (int i = 0; i < 10; i++) {
            threads.emplace_back(run, "unary " + std::to_string(i), [this] {
                grpc::ClientContext ctx;
                Deadline(&ctx);
                gt::SimpleRequest req;
                req.set_response_size(65536);
                req.mutable_payload()->set_body(std::string(65536, '\0'));
                gt::SimpleResponse resp;
                CheckOk(test_->UnaryCall(&ctx, req, &resp));
                Check(resp.payload().body().size() == 65536,
                      std::to_string(resp.payload().body().size()) + " bytes");
            });
            threads.emplace_back(run, "stream " + std::to_string(i), [this] {
                std::vector<int> want(std::begin(kRespSizes), std::end(kRespSizes));
                std::vector<int> got = StreamingOutput(want);
                Check(got == want, "sizes " + Sizes(got));
            });
        }
        for (auto &t : threads)
            t.join();
        Check(errors.empty(), errors.empty() ? "" : errors[0]);
    }

    // 4 MiB each way in 512 KiB messages: past the HTTP/2 windows.
    void LargeStreams()
    {
        const int chunk = 512 * 1024;
        grpc::ClientContext ctx;
        Deadline(&ctx);
        gt::StreamingInputCallResponse resp;
        auto w = test_->StreamingInputCall(&ctx, &resp);
        gt::StreamingInputCallRequest req;
        req.mutable_payload()->set_body(std::string(chunk, '\0'));
        for (int i = 0; i < 8; i++)
            Check(w->Write(req), "client stream: write " + std::to_string(i) + " failed");
        w->WritesDone();
        CheckOk(w->Finish(), "client stream: ");
        Check(resp.aggregated_payload_size() == 8 * chunk,
              "client stream: aggregated_payload_size " +
                  std::to_string(resp.aggregated_payload_size()));
        std::vector<int> want(8, chunk);
        std::vector<int> got = StreamingOutput(want);
        Check(got == want, "server stream: sizes " + Sizes(got));
    }

    void ClientStreaming()
    {
        grpc::ClientContext ctx;
        Deadline(&ctx);
        gt::StreamingInputCallResponse resp;
        auto w = test_->StreamingInputCall(&ctx, &resp);
        for (int n : kReqSizes) {
            gt::StreamingInputCallRequest req;
            req.mutable_payload()->set_body(std::string(n, '\0'));
            Check(w->Write(req), "write of " + std::to_string(n) + " bytes failed");
        }
        w->WritesDone();
        CheckOk(w->Finish());
        Check(resp.aggregated_payload_size() == 74922,
              "aggregated_payload_size " + std::to_string(resp.aggregated_payload_size()));
    }

    void PingPong()
    {
        grpc::ClientContext ctx;
        Deadline(&ctx);
        auto s = test_->FullDuplexCall(&ctx);
        for (int i = 0; i < 4; i++) {
            Check(s->Write(Ping(kRespSizes[i], kReqSizes[i])),
                  "round " + std::to_string(i) + ": write failed");
            gt::StreamingOutputCallResponse resp;
            if (!s->Read(&resp)) {
                s->WritesDone();
                CheckOk(s->Finish(), "round " + std::to_string(i) + ": no response: ");
                throw CaseFailed("round " + std::to_string(i) + ": no response");
            }
            Check(static_cast<int>(resp.payload().body().size()) == kRespSizes[i],
                  "round " + std::to_string(i) + ": " +
                      std::to_string(resp.payload().body().size()) + " bytes, expected " +
                      std::to_string(kRespSizes[i]));
        }
        s->WritesDone();
        gt::StreamingOutputCallResponse extra;
        Check(!s->Read(&extra), "a response after the last request");
        CheckOk(s->Finish());
    }

    void EmptyStream()
    {
        grpc::ClientContext ctx;
        Deadline(&ctx);
        auto s = test_->FullDuplexCall(&ctx);
        s->WritesDone();
        gt::StreamingOutputCallResponse resp;
        Check(!s->Read(&resp), "a response");
        CheckOk(s->Finish());
    }

    void StatusCodeAndMessage()
    {
        {
            grpc::ClientContext ctx;
            Deadline(&ctx);
            gt::SimpleRequest req;
            req.mutable_response_status()->set_code(2);
            req.mutable_response_status()->set_message("test status message");
            gt::SimpleResponse resp;
            ExpectStatus(test_->UnaryCall(&ctx, req, &resp), 2, "test status message");
        }
        grpc::ClientContext ctx;
        Deadline(&ctx);
        auto s = test_->FullDuplexCall(&ctx);
        gt::StreamingOutputCallRequest req;
        req.mutable_response_status()->set_code(2);
        req.mutable_response_status()->set_message("test status message");
        s->Write(req);
        s->WritesDone();
        gt::StreamingOutputCallResponse resp;
        while (s->Read(&resp)) {
        }
        ExpectStatus(s->Finish(), 2, "test status message");
    }

    void CustomMetadata()
    {
        {
            grpc::ClientContext ctx;
            Deadline(&ctx);
            ctx.AddMetadata(kEchoInitial, kInitialValue);
            ctx.AddMetadata(kEchoTrailing, kTrailingValue);
            gt::SimpleResponse resp;
            CheckOk(test_->UnaryCall(&ctx, LargeRequest(), &resp), "unary: ");
            Check(resp.payload().body().size() == 314159,
                  "unary: payload of " + std::to_string(resp.payload().body().size()));
            CheckEchoed(ctx);
        }
        grpc::ClientContext ctx;
        Deadline(&ctx);
        ctx.AddMetadata(kEchoInitial, kInitialValue);
        ctx.AddMetadata(kEchoTrailing, kTrailingValue);
        auto s = test_->FullDuplexCall(&ctx);
        s->Write(Ping(314159, 271828));
        s->WritesDone();
        gt::StreamingOutputCallResponse resp;
        int n = 0;
        while (s->Read(&resp)) {
            Check(resp.payload().body().size() == 314159,
                  "full duplex: " + std::to_string(resp.payload().body().size()) + " bytes");
            n++;
        }
        CheckOk(s->Finish(), "full duplex: ");
        Check(n == 1, "full duplex: " + std::to_string(n) + " responses");
        CheckEchoed(ctx);
    }

    void UnimplementedMethod()
    {
        grpc::ClientContext ctx;
        Deadline(&ctx);
        gt::Empty req, resp;
        ExpectStatus(test_->UnimplementedCall(&ctx, req, &resp), grpc::StatusCode::UNIMPLEMENTED,
                     nullptr);
    }

    double timeout_;
    std::unique_ptr<helloworld::Greeter::Stub> greeter_;
    std::unique_ptr<gt::TestService::Stub> test_;
};

const char *const kCases[] = {
    "say_hello",        "say_hello_stream",        "empty_unary",      "large_unary",
    "gzip_large_unary", "server_streaming",        "client_streaming", "ping_pong",
    "empty_stream",     "status_code_and_message", "custom_metadata",  "concurrent_calls",
    "large_streams",    "unimplemented_method"};

int RunClient(const std::string &server, const std::vector<std::string> &names, double timeout)
{
    Client c(server, timeout);
    auto cases = c.Cases();
    int failed = 0;
    for (const auto &name : names) {
        auto it = cases.find(name);
        try {
            if (it == cases.end()) throw CaseFailed("no such case");
            it->second();
            std::printf("PASS %s\n", name.c_str());
        } catch (const std::exception &e) {
            failed++;
            std::printf("FAIL %s: %s\n", name.c_str(), e.what());
        }
        std::fflush(stdout);
    }
    return failed ? 1 : 0;
}

int Usage(const char *why)
{
    std::fprintf(
        stderr,
        "cpp_peer: %s\nusage: cpp_peer client --server HOST:PORT [--cases a,b] [--timeout S]\n"
        "       cpp_peer server [--port N] [--host ADDR]\n",
        why);
    return 2;
}

} // namespace

int main(int argc, char **argv)
{
    if (argc < 2) return Usage("no role");
    std::string role = argv[1], server, host = "127.0.0.1";
    int port = 0;
    double timeout = 10;
    std::vector<std::string> names(std::begin(kCases), std::end(kCases));
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) return Usage("an option without its value");
        std::string opt = argv[i], val = argv[i + 1];
        if (opt == "--server") {
            server = val;
        } else if (opt == "--port") {
            port = std::atoi(val.c_str());
        } else if (opt == "--host") {
            host = val;
        } else if (opt == "--timeout") {
            timeout = std::atof(val.c_str());
        } else if (opt == "--cases") {
            names.clear();
            std::stringstream ss(val);
            std::string c;
            while (std::getline(ss, c, ','))
                if (!c.empty()) names.push_back(c);
        } else {
            return Usage(("unknown option " + opt).c_str());
        }
    }
    if (role == "server") return Serve(host, port);
    if (role != "client") return Usage("role must be client or server");
    if (server.empty()) return Usage("client needs --server HOST:PORT");
    return RunClient(server, names, timeout);
}
