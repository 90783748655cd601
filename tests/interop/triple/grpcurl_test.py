#!/usr/bin/env python3
"""gRPC server reflection and health against grpcurl: the demo provider
(`dubbo demo provider --protocol tri --port 0`) under grpcurl v1.9.4
(tests/interop/grpc builds it), over plaintext HTTP/2 on loopback.

grpcurl's reflection client (jhump/protoreflect's NewClientAuto) asks
grpc.reflection.v1 and falls back to v1alpha only when v1 is UNIMPLEMENTED,
so `list` and `describe` prove v1; v1alpha is proven by calling its
ServerReflectionInfo as an ordinary bidirectional method with JSON requests
(grpcurl learns its schema through v1), and its file descriptor bytes are
decoded by protoc (--decode google.protobuf.FileDescriptorProto) when protoc
is installed. org.apache.dubbo.demo.DemoService, an interface service with
no .proto, is served over tri but not listed by reflection.

Exit: 0 all passed, 1 a case failed, 77 grpcurl is not built and cannot be
(only when DUBBO_C_ALLOW_SKIP=1)."""
import argparse
import base64
import json
import os
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from interoplib import Proc  # noqa: E402


class Run:
    def __init__(self, args):
        self.a = args
        os.makedirs(args.work, exist_ok=True)
        self.failed = []
        self.passed = 0

    def grpc_dir(self):
        build = os.path.join(self.a.source, "tests", "interop", "grpc", "build.sh")
        r = subprocess.run(["bash", build, "--print"], capture_output=True, text=True)
        if r.returncode != 0:
            print("grpcurl: not built yet; building it (scripts/setup.sh does this once)",
                  flush=True)
            r = subprocess.run(["bash", build], capture_output=True, text=True)
            if r.returncode != 0:
                sys.stderr.write(r.stdout + r.stderr)
                return None
        return r.stdout.strip().splitlines()[-1]

    def call(self, verb, *rest, data=None):
        """grpcurl -plaintext [-d data] ADDR verb rest..."""
        cmd = [self.curl, "-plaintext", "-max-time", "10"]
        if data is not None:
            cmd += ["-d", data]
        cmd += [self.addr, verb] + list(rest)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        return r.returncode, r.stdout, r.stderr

    def case(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("PASS %s" % name, flush=True)
        else:
            self.failed.append(name)
            print("FAIL %s: %s" % (name, detail.strip()[:2000]), flush=True)

    def run(self):
        gdir = self.grpc_dir()
        if not gdir:
            if os.environ.get("DUBBO_C_ALLOW_SKIP") == "1":
                return 77
            print("grpcurl: tests/interop/grpc could not be built")
            return 1
        self.curl = os.path.join(gdir, "grpcurl")
        p = Proc("provider-c", [self.a.cli, "demo", "provider", "--protocol", "tri", "--port", "0",
                                "--host", "127.0.0.1", "--registry", "none"],
                 dict(os.environ), self.a.work)
        try:
            m = p.wait_line(r"^listening on .*:(\d+)$", 60)
            if not m:
                print("grpcurl: the provider did not start; see %s/provider-c.log" % self.a.work)
                return 1
            self.addr = "127.0.0.1:%s" % m.group(1)
            self.cases()
            alive = p.alive()
            rc = p.stop(signal.SIGTERM, 30)
            self.case("provider alive to the end, exits 0 on SIGTERM", alive and rc == 0,
                      "alive %s, exit %s" % (alive, rc))
        finally:
            p.stop(signal.SIGKILL, 5)
        print("interop grpcurl: %d passed, %d failed" % (self.passed, len(self.failed)))
        return 1 if self.failed else 0

    def cases(self):
        # list (reflection v1)
        rc, out, err = self.call("list")
        names = out.split()
        want = ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection", "grpc.testing.TestService",
                "helloworld.Greeter"]
        self.case("list", rc == 0 and sorted(names) == want, out + err)

        rc, out, err = self.call("list", "helloworld.Greeter")
        self.case("list helloworld.Greeter", rc == 0 and out.split() == [
            "helloworld.Greeter.SayHello", "helloworld.Greeter.SayHelloStream"], out + err)

        rc, out, err = self.call("describe", "helloworld.Greeter")
        self.case("describe helloworld.Greeter", rc == 0 and
                  "rpc SayHello ( .helloworld.HelloRequest ) returns ( .helloworld.HelloReply );"
                  in out and "rpc SayHelloStream ( .helloworld.HelloRequest ) returns "
                  "( stream .helloworld.HelloReply );" in out, out + err)

        rc, out, err = self.call("describe", "helloworld.HelloRequest")
        self.case("describe helloworld.HelloRequest", rc == 0 and
                  "message HelloRequest {" in out and "string name = 1;" in out, out + err)

        rc, out, err = self.call("describe", "grpc.testing.TestService")
        self.case("describe grpc.testing.TestService (every streaming kind)", rc == 0 and
                  "rpc FullDuplexCall ( stream .grpc.testing.StreamingOutputCallRequest ) "
                  "returns ( stream .grpc.testing.StreamingOutputCallResponse );" in out and
                  "rpc StreamingInputCall ( stream .grpc.testing.StreamingInputCallRequest ) "
                  "returns ( .grpc.testing.StreamingInputCallResponse );" in out, out + err)

        rc, out, err = self.call("describe", "grpc.health.v1.HealthCheckResponse")
        self.case("describe a message with a nested enum", rc == 0 and
                  "enum ServingStatus {" in out and "SERVICE_UNKNOWN = 3;" in out, out + err)

        rc, out, err = self.call("describe", "no.such.Symbol")
        self.case("describe an unknown symbol fails, naming it", rc != 0 and
                  "no.such.Symbol" in err and "not found" in err.lower(), out + err)

        # calls whose schema comes from reflection
        rc, out, err = self.call("helloworld.Greeter/SayHello", data='{"name":"x"}')
        ok = rc == 0
        try:
            ok = ok and json.loads(out) == {"message": "Hello x"}
        except ValueError:
            ok = False
        self.case("helloworld.Greeter/SayHello", ok, out + err)

        rc, out, err = self.call("helloworld.Greeter/SayHelloStream", data='{"name":"s"}')
        self.case("helloworld.Greeter/SayHelloStream (server stream)",
                  rc == 0 and out.count('"message"') == 3 and "Hello s 2" in out, out + err)

        # health
        rc, out, err = self.call("grpc.health.v1.Health/Check")
        self.case("Health/Check overall: SERVING", rc == 0 and '"SERVING"' in out, out + err)
        rc, out, err = self.call("grpc.health.v1.Health/Check",
                                 data='{"service":"helloworld.Greeter"}')
        self.case("Health/Check helloworld.Greeter: SERVING", rc == 0 and '"SERVING"' in out,
                  out + err)
        rc, out, err = self.call("grpc.health.v1.Health/Check",
                                 data='{"service":"org.apache.dubbo.demo.DemoService"}')
        self.case("Health/Check an interface service: SERVING", rc == 0 and '"SERVING"' in out,
                  out + err)
        rc, out, err = self.call("grpc.health.v1.Health/Check", data='{"service":"no.Such"}')
        self.case("Health/Check unknown: NOT_FOUND", rc != 0 and "NotFound" in err, out + err)
        cmd = [self.curl, "-plaintext", "-max-time", "1", "-d", '{"service":"no.Such"}',
               self.addr, "grpc.health.v1.Health/Watch"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        self.case("Health/Watch unknown: SERVICE_UNKNOWN, then watching until the deadline",
                  '"SERVICE_UNKNOWN"' in r.stdout and "DeadlineExceeded" in r.stderr,
                  r.stdout + r.stderr)

        # both reflection versions, raw: list, a symbol, a file, the errors
        for v in ("v1", "v1alpha"):
            reqs = [{"list_services": ""},
                    {"file_containing_symbol": "helloworld.HelloReply"},
                    {"file_by_filename": "grpc.testing.dubbo-c-reflection.proto"},
                    {"file_containing_symbol": "no.such.Symbol"},
                    {"file_containing_extension": {"containing_type": "helloworld.HelloRequest",
                                                   "extension_number": 100}},
                    {"all_extension_numbers_of_type": "helloworld.HelloRequest"},
                    {"all_extension_numbers_of_type": "no.such.Type"},
                    {"host": "h"}]
            rc, out, err = self.call("grpc.reflection.%s.ServerReflection/ServerReflectionInfo" % v,
                                     data=" ".join(json.dumps(r) for r in reqs))
            resps = []
            dec = json.JSONDecoder()
            text = out.strip()
            while text:
                obj, end = dec.raw_decode(text)
                resps.append(obj)
                text = text[end:].strip()
            self.case("%s: one response per request" % v, rc == 0 and len(resps) == len(reqs),
                      out + err)
            if len(resps) != len(reqs):
                continue
            services = [s["name"] for s in resps[0].get("listServicesResponse", {})
                        .get("service", [])]
            self.case("%s: list_services" % v, sorted(services) == [
                "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
                "grpc.reflection.v1alpha.ServerReflection", "grpc.testing.TestService",
                "helloworld.Greeter"], json.dumps(resps[0]))
            files = resps[1].get("fileDescriptorResponse", {}).get("fileDescriptorProto", [])
            text = self.decode_file(files[0]) if files else ""
            self.case("%s: file_containing_symbol helloworld.HelloReply" % v, len(files) == 1 and
                      (text is None or ('name: "helloworld.dubbo-c-reflection.proto"' in text and
                                        'name: "HelloReply"' in text and
                                        'server_streaming: true' in text)),
                      json.dumps(resps[1]) + (text or ""))
            files = resps[2].get("fileDescriptorResponse", {}).get("fileDescriptorProto", [])
            text = self.decode_file(files[0]) if files else ""
            self.case("%s: file_by_filename grpc.testing.dubbo-c-reflection.proto" % v,
                      len(files) == 1 and (text is None or (
                          'package: "grpc.testing"' in text and
                          'name: "StreamingOutputCallRequest"' in text and
                          'client_streaming: true' in text)),
                      json.dumps(resps[2]) + (text or ""))
            for i, code, what in ((3, 5, "file_containing_symbol unknown: NOT_FOUND"),
                                  (4, 5, "file_containing_extension: NOT_FOUND"),
                                  (6, 5, "all_extension_numbers_of_type unknown: NOT_FOUND"),
                                  (7, 3, "a request asking nothing: INVALID_ARGUMENT")):
                e = resps[i].get("errorResponse", {})
                self.case("%s: %s" % (v, what), e.get("errorCode") == code and
                          e.get("errorMessage"), json.dumps(resps[i]))
            e = resps[5].get("allExtensionNumbersResponse", {})
            self.case("%s: all_extension_numbers_of_type of a known message: none" % v,
                      e.get("baseTypeName") == "helloworld.HelloRequest" and
                      not e.get("extensionNumber"), json.dumps(resps[5]))
            self.case("%s: original_request and valid_host echoed" % v,
                      resps[3].get("originalRequest") == {
                          "fileContainingSymbol": "no.such.Symbol"} and
                      resps[7].get("validHost") == "h", json.dumps(resps[3]) + json.dumps(resps[7]))

    def decode_file(self, b64):
        """The FileDescriptorProto as protoc's text format, or None without protoc."""
        protoc = shutil.which("protoc")
        inc = "/usr/include"
        if not protoc or not os.path.exists(os.path.join(inc, "google/protobuf/descriptor.proto")):
            return None
        r = subprocess.run([protoc, "-I" + inc, "--decode=google.protobuf.FileDescriptorProto",
                            "google/protobuf/descriptor.proto"], input=base64.b64decode(b64),
                           capture_output=True, timeout=30)
        return r.stdout.decode() + r.stderr.decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cli", required=True, help="the dubbo CLI")
    ap.add_argument("--source", required=True, help="the source tree (for tests/interop/grpc)")
    ap.add_argument("--work", required=True, help="logs go here")
    sys.exit(Run(ap.parse_args()).run())


if __name__ == "__main__":
    main()
