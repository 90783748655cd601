#!/usr/bin/python3
"""The Python gRPC peer of the Triple proof: grpcio 1.51 (Debian's
python3-grpcio, so /usr/bin/python3), its generic API (no grpc_tools), the
message classes made by protoc --python_out at start into a temporary
folder (or --gen-dir). Written for dubbo-c.

  python_peer.py client --server HOST:PORT [--cases a,b,...]
      runs the cases (CASES below) against the server, one line each:
      "PASS <case>" or "FAIL <case>: <reason>"; exit 0 iff all passed
  python_peer.py server [--port N] [--host ADDR]
      serves grpc.testing.TestService (as gRPC's interop server does) and
      helloworld.Greeter, prints "LISTENING <port>" when ready (port 0, the
      default, picks one), runs until SIGTERM/SIGINT

The protos are the project's own (tools/proto); --proto-dir overrides."""
import argparse
import importlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent import futures

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
PROTO_DIR = os.path.join(HERE, "..", "..", "..", "tools", "proto")
TEST = "/grpc.testing.TestService/"
GREETER = "/helloworld.Greeter/"
REQ_SIZES = [27182, 8, 1828, 45904]
RESP_SIZES = [31415, 9, 2653, 58979]
CHUNK = 512 * 1024
ECHO_INITIAL = ("x-grpc-test-echo-initial", "test_initial_metadata_value")
ECHO_TRAILING = ("x-grpc-test-echo-trailing-bin", b"\xab\xab\xab")
STATUS = {s.value[0]: s for s in grpc.StatusCode}


def load_messages(proto_dir, gen_dir):
    """The generated modules (messages, empty, helloworld). grpc/testing's
    files are compiled from their own folder: a generated package named
    grpc would hide grpcio's."""
    testing = os.path.join(proto_dir, "grpc", "testing")
    for include, files in ((testing, ["empty.proto", "messages.proto"]),
                           (proto_dir, ["helloworld.proto"])):
        r = subprocess.run(["protoc", "-I", include, "--python_out=" + gen_dir] + files,
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError("protoc failed: " + r.stderr.strip())
    sys.path.insert(0, gen_dir)
    return tuple(importlib.import_module(m) for m in ("messages_pb2", "empty_pb2", "helloworld_pb2"))


# ---- the server ---------------------------------------------------------------------------
class Server:
    def __init__(self, msgs, empty, hello):
        self.m, self.e, self.h = msgs, empty, hello

    @staticmethod
    def echo(context):
        """Echo the x-grpc-test-echo-* metadata: the initial value as a
        header now, the trailing one as a trailer."""
        md = dict(context.invocation_metadata())
        if ECHO_INITIAL[0] in md:
            context.send_initial_metadata([(ECHO_INITIAL[0], md[ECHO_INITIAL[0]])])
        if ECHO_TRAILING[0] in md:
            context.set_trailing_metadata([(ECHO_TRAILING[0], md[ECHO_TRAILING[0]])])

    @staticmethod
    def asked_status(req, context):
        """Answer the status the request asks for, if any (abort raises)."""
        if req.HasField("response_status") and req.response_status.code:
            code = STATUS.get(req.response_status.code, grpc.StatusCode.UNKNOWN)
            context.abort(code, req.response_status.message)

    def responses(self, req, context):
        self.asked_status(req, context)
        for p in req.response_parameters:
            if p.interval_us > 0:
                time.sleep(p.interval_us / 1e6)
            yield self.m.StreamingOutputCallResponse(payload=self.m.Payload(body=bytes(p.size)))

    def say_hello(self, req, context):
        return self.h.HelloReply(message="Hello " + req.name)

    def say_hello_stream(self, req, context):
        for i in range(3):
            yield self.h.HelloReply(message="Hello %s %d" % (req.name, i))

    def empty_call(self, req, context):
        self.echo(context)
        return self.e.Empty()

    def unary_call(self, req, context):
        self.echo(context)
        self.asked_status(req, context)
        if req.response_size < 0:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, "response_size is negative")
        return self.m.SimpleResponse(payload=self.m.Payload(body=bytes(req.response_size)))

    def streaming_output_call(self, req, context):
        self.echo(context)
        yield from self.responses(req, context)

    def streaming_input_call(self, reqs, context):
        total = sum(len(r.payload.body) for r in reqs)
        return self.m.StreamingInputCallResponse(aggregated_payload_size=total)

    def full_duplex_call(self, reqs, context):
        self.echo(context)
        for req in reqs:
            yield from self.responses(req, context)

    def handlers(self):
        m, e, h = self.m, self.e, self.h

        def method(kind, fn, req, resp):
            return kind(fn, request_deserializer=req.FromString,
                        response_serializer=resp.SerializeToString)

        test = {
            "EmptyCall": method(grpc.unary_unary_rpc_method_handler, self.empty_call, e.Empty, e.Empty),
            "UnaryCall": method(grpc.unary_unary_rpc_method_handler, self.unary_call,
                                m.SimpleRequest, m.SimpleResponse),
            "StreamingOutputCall": method(grpc.unary_stream_rpc_method_handler,
                                          self.streaming_output_call,
                                          m.StreamingOutputCallRequest,
                                          m.StreamingOutputCallResponse),
            "StreamingInputCall": method(grpc.stream_unary_rpc_method_handler,
                                         self.streaming_input_call,
                                         m.StreamingInputCallRequest,
                                         m.StreamingInputCallResponse),
            "FullDuplexCall": method(grpc.stream_stream_rpc_method_handler, self.full_duplex_call,
                                     m.StreamingOutputCallRequest, m.StreamingOutputCallResponse),
        }
        greeter = {
            "SayHello": method(grpc.unary_unary_rpc_method_handler, self.say_hello,
                               h.HelloRequest, h.HelloReply),
            "SayHelloStream": method(grpc.unary_stream_rpc_method_handler, self.say_hello_stream,
                                     h.HelloRequest, h.HelloReply),
        }
        return (grpc.method_handlers_generic_handler("grpc.testing.TestService", test),
                grpc.method_handlers_generic_handler("helloworld.Greeter", greeter))


def serve(args, mods):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32),
                         options=[("grpc.max_receive_message_length", 8 << 20)])
    server.add_generic_rpc_handlers(Server(*mods).handlers())
    host = "[%s]" % args.host if ":" in args.host else args.host
    port = server.add_insecure_port("%s:%d" % (host, args.port))
    if not port:
        sys.stderr.write("python_peer: cannot bind %s:%d\n" % (host, args.port))
        return 1
    # the handlers before the ready line: a SIGTERM right after it stops cleanly
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    server.start()
    print("LISTENING %d" % port, flush=True)
    stop.wait()
    server.stop(2).wait()
    return 0


# ---- the client ---------------------------------------------------------------------------
class CaseFailed(Exception):
    pass


def check(cond, what):
    if not cond:
        raise CaseFailed(what)


def expect_status(err, code, message=None):
    check(err is not None, "no error, expected status %d" % code)
    got = err.code().value[0]
    check(got == code, "status %d (%s), expected %d" % (got, err.details(), code))
    if message is not None:
        check(err.details() == message, "message %r, expected %r" % (err.details(), message))


def check_echoed(initial, trailing):
    ini = [v for k, v in initial or () if k == ECHO_INITIAL[0]]
    check(ini == [ECHO_INITIAL[1]], "initial metadata echo: %r" % ini)
    tr = [v for k, v in trailing or () if k == ECHO_TRAILING[0]]
    check(tr == [ECHO_TRAILING[1]], "trailing metadata echo: %r" % tr)


class Feeder:
    """The requests of a bidi call, handed over one at a time."""

    def __init__(self):
        self.q = queue.Queue()

    def send(self, msg):
        self.q.put(msg)

    def close(self):
        self.q.put(None)

    def __iter__(self):
        while True:
            m = self.q.get()
            if m is None:
                return
            yield m


class Client:
    def __init__(self, args, mods):
        self.m, self.e, self.h = mods
        self.t = args.timeout
        self.ch = grpc.insecure_channel(args.server,
                                        options=[("grpc.max_receive_message_length", 8 << 20)])

    def call(self, kind, path, req, resp):
        return getattr(self.ch, kind)(path, request_serializer=req.SerializeToString,
                                      response_deserializer=resp.FromString)

    def unary(self, req, **kw):
        return self.call("unary_unary", TEST + "UnaryCall", self.m.SimpleRequest,
                         self.m.SimpleResponse).with_call(req, timeout=self.t, **kw)

    def duplex(self, requests, **kw):
        return self.call("stream_stream", TEST + "FullDuplexCall", self.m.StreamingOutputCallRequest,
                         self.m.StreamingOutputCallResponse)(requests, timeout=self.t, **kw)

    def large_request(self):
        return self.m.SimpleRequest(response_size=314159, payload=self.m.Payload(body=bytes(271828)))

    def case_say_hello(self):
        r = self.call("unary_unary", GREETER + "SayHello", self.h.HelloRequest,
                      self.h.HelloReply)(self.h.HelloRequest(name="world"), timeout=self.t)
        check(r.message == "Hello world", "message %r" % r.message)

    def case_say_hello_stream(self):
        it = self.call("unary_stream", GREETER + "SayHelloStream", self.h.HelloRequest,
                       self.h.HelloReply)(self.h.HelloRequest(name="stream"), timeout=self.t)
        got = [r.message for r in it]
        check(got == ["Hello stream %d" % i for i in range(3)], "replies %r" % got)

    def case_empty_unary(self):
        self.call("unary_unary", TEST + "EmptyCall", self.e.Empty, self.e.Empty)(
            self.e.Empty(), timeout=self.t)

    def case_large_unary(self):
        r, _ = self.unary(self.large_request())
        check(r.payload.body == bytes(314159),
              "payload of %d bytes, expected 314159 zeros" % len(r.payload.body))

    def case_gzip_large_unary(self):
        r, _ = self.unary(self.large_request(), compression=grpc.Compression.Gzip)
        check(len(r.payload.body) == 314159, "payload of %d bytes" % len(r.payload.body))

    def case_server_streaming(self):
        got = self.streaming_output(RESP_SIZES)
        check(got == RESP_SIZES, "sizes %r" % got)

    def case_client_streaming(self):
        reqs = (self.m.StreamingInputCallRequest(payload=self.m.Payload(body=bytes(n)))
                for n in REQ_SIZES)
        r = self.call("stream_unary", TEST + "StreamingInputCall", self.m.StreamingInputCallRequest,
                      self.m.StreamingInputCallResponse)(reqs, timeout=self.t)
        check(r.aggregated_payload_size == 74922,
              "aggregated_payload_size %d" % r.aggregated_payload_size)

    def case_ping_pong(self):
        feed = Feeder()
        it = self.duplex(iter(feed))
        try:
            for i in range(4):
                feed.send(self.m.StreamingOutputCallRequest(
                    response_parameters=[self.m.ResponseParameters(size=RESP_SIZES[i])],
                    payload=self.m.Payload(body=bytes(REQ_SIZES[i]))))
                r = next(it)
                check(len(r.payload.body) == RESP_SIZES[i], "round %d: %d bytes, expected %d"
                      % (i, len(r.payload.body), RESP_SIZES[i]))
            feed.close()
            rest = list(it)
            check(not rest, "%d responses after the last request" % len(rest))
        finally:
            feed.close()
            it.cancel()

    def case_empty_stream(self):
        got = list(self.duplex(iter(())))
        check(not got, "%d responses" % len(got))

    def case_status_code_and_message(self):
        status = self.m.EchoStatus(code=2, message="test status message")
        try:
            self.unary(self.m.SimpleRequest(response_status=status))
            err = None
        except grpc.RpcError as e:
            err = e
        expect_status(err, 2, "test status message")
        try:
            list(self.duplex(iter([self.m.StreamingOutputCallRequest(response_status=status)])))
            err = None
        except grpc.RpcError as e:
            err = e
        expect_status(err, 2, "test status message")

    def case_custom_metadata(self):
        md = [ECHO_INITIAL, ECHO_TRAILING]
        r, call = self.unary(self.large_request(), metadata=md)
        check(len(r.payload.body) == 314159, "unary: payload of %d bytes" % len(r.payload.body))
        check_echoed(call.initial_metadata(), call.trailing_metadata())
        it = self.duplex(iter([self.m.StreamingOutputCallRequest(
            response_parameters=[self.m.ResponseParameters(size=314159)],
            payload=self.m.Payload(body=bytes(271828)))]), metadata=md)
        got = [len(x.payload.body) for x in it]
        check(got == [314159], "full duplex: sizes %r" % got)
        check_echoed(it.initial_metadata(), it.trailing_metadata())

    def streaming_output(self, sizes):
        req = self.m.StreamingOutputCallRequest(
            response_parameters=[self.m.ResponseParameters(size=n) for n in sizes])
        it = self.call("unary_stream", TEST + "StreamingOutputCall",
                       self.m.StreamingOutputCallRequest,
                       self.m.StreamingOutputCallResponse)(req, timeout=self.t)
        return [len(r.payload.body) for r in it]

    def case_concurrent_calls(self):
        """10 unary and 10 server-streaming calls at once on one channel."""
        def one_unary(i):
            r, _ = self.unary(self.m.SimpleRequest(response_size=65536,
                                                   payload=self.m.Payload(body=bytes(65536))))
            check(len(r.payload.body) == 65536, "unary %d: %d bytes" % (i, len(r.payload.body)))

        def one_stream(i):
            got = self.streaming_output(RESP_SIZES)
            check(got == RESP_SIZES, "stream %d: sizes %r" % (i, got))

        with futures.ThreadPoolExecutor(max_workers=20) as pool:
            jobs = [pool.submit(fn, i) for i in range(10) for fn in (one_unary, one_stream)]
            for j in jobs:
                j.result()

    def case_large_streams(self):
        """4 MiB each way in 512 KiB messages: past the HTTP/2 windows."""
        reqs = (self.m.StreamingInputCallRequest(payload=self.m.Payload(body=bytes(CHUNK)))
                for _ in range(8))
        r = self.call("stream_unary", TEST + "StreamingInputCall", self.m.StreamingInputCallRequest,
                      self.m.StreamingInputCallResponse)(reqs, timeout=self.t)
        check(r.aggregated_payload_size == 8 * CHUNK,
              "client stream: aggregated_payload_size %d" % r.aggregated_payload_size)
        got = self.streaming_output([CHUNK] * 8)
        check(got == [CHUNK] * 8, "server stream: sizes %r" % got)

    def case_unimplemented_method(self):
        try:
            self.call("unary_unary", TEST + "UnimplementedCall", self.e.Empty, self.e.Empty)(
                self.e.Empty(), timeout=self.t)
            err = None
        except grpc.RpcError as e:
            err = e
        expect_status(err, grpc.StatusCode.UNIMPLEMENTED.value[0])


CASES = ["say_hello", "say_hello_stream", "empty_unary", "large_unary", "gzip_large_unary",
         "server_streaming", "client_streaming", "ping_pong", "empty_stream",
         "status_code_and_message", "custom_metadata", "concurrent_calls", "large_streams",
         "unimplemented_method"]


def run_client(args, mods):
    c = Client(args, mods)
    failed = 0
    for name in args.cases or CASES:
        fn = getattr(c, "case_" + name, None)
        try:
            if fn is None:
                raise CaseFailed("no such case")
            fn()
            print("PASS " + name, flush=True)
        except grpc.RpcError as e:
            failed += 1
            print("FAIL %s: status %s: %s" % (name, e.code().name, e.details()), flush=True)
        except Exception as e:  # a case's failure, whatever raised it
            failed += 1
            print("FAIL %s: %s" % (name, str(e).replace("\n", " ") or type(e).__name__), flush=True)
    c.ch.close()
    return 1 if failed else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("role", choices=["client", "server"])
    ap.add_argument("--server", help="client: HOST:PORT to call")
    ap.add_argument("--cases", type=lambda s: [c for c in s.split(",") if c],
                    help="client: the cases to run (default all)")
    ap.add_argument("--timeout", type=float, default=10, help="client: seconds per call")
    ap.add_argument("--port", type=int, default=0, help="server: port (0 picks one)")
    ap.add_argument("--host", default="127.0.0.1", help="server: address to bind")
    ap.add_argument("--proto-dir", default=PROTO_DIR)
    ap.add_argument("--gen-dir", help="where protoc writes the modules (default a temporary "
                                      "folder, removed at exit)")
    args = ap.parse_args()
    if args.role == "client" and not args.server:
        ap.error("client needs --server HOST:PORT")
    gen = args.gen_dir or tempfile.mkdtemp(prefix="dubbo-c-python-peer-")
    try:
        os.makedirs(gen, exist_ok=True)
        mods = load_messages(args.proto_dir, gen)
        return serve(args, mods) if args.role == "server" else run_client(args, mods)
    finally:
        if not args.gen_dir:
            shutil.rmtree(gen, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
