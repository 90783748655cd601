#!/usr/bin/env python3
"""Malformed and abusive HTTP/2 against the Triple provider, one table row
per case: `dubbo demo provider --protocol dubbo,tri` is started, and each
row speaks raw HTTP/2 to it over a loopback socket (frames written by hand,
headers as HPACK literals without indexing; the answers' headers are
decoded with the system's libnghttp2 HPACK inflater through ctypes, the
library the provider itself links). Each row says the outcome it expects:
a GOAWAY with its error code and words of its debug data, a RST_STREAM
code, or a gRPC status and words of its message. After every row a gRPC
call on a new connection and one on a connection opened before the first
row must still succeed: the provider keeps serving. Last, keepalive: a
second provider with a heartbeat of 1 s PINGs an idle connection, and
closes it (GOAWAY) when a PING goes unanswered.

  h2_malformed_test.py --cli build/tools/dubbo [--work DIR] [--only NAME]

Exit 0 when every row met its expectation, 1 otherwise (ctest
interop/triple-malformed, label interop)."""
import argparse
import ctypes
import ctypes.util
import os
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from interoplib import Proc  # noqa: E402

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS = 0, 1, 2, 3, 4
PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = 6, 7, 8, 9
END_STREAM, ACK, END_HEADERS = 0x1, 0x1, 0x4
ERRORS = {0: "NO_ERROR", 1: "PROTOCOL_ERROR", 2: "INTERNAL_ERROR", 3: "FLOW_CONTROL_ERROR",
          5: "STREAM_CLOSED", 6: "FRAME_SIZE_ERROR", 7: "REFUSED_STREAM", 8: "CANCEL",
          11: "ENHANCE_YOUR_CALM"}
CODE = {v: k for k, v in ERRORS.items()}
EMPTY_CALL = "/grpc.testing.TestService/EmptyCall"
UNARY_CALL = "/grpc.testing.TestService/UnaryCall"


# ---- HPACK: literals out, libnghttp2's inflater in -----------------------------------------

def hpack_int(value, prefix_bits, first):
    limit = (1 << prefix_bits) - 1
    if value < limit:
        return bytes([first | value])
    out = [first | limit]
    value -= limit
    while value >= 128:
        out.append(value % 128 + 128)
        value //= 128
    out.append(value)
    return bytes(out)


def hpack_literals(headers):
    """A header block of literals without indexing, new names, no Huffman."""
    out = b""
    for k, v in headers:
        k, v = k.encode(), v.encode()
        out += b"\x00" + hpack_int(len(k), 7, 0) + k + hpack_int(len(v), 7, 0) + v
    return out


class NV(ctypes.Structure):
    _fields_ = [("name", ctypes.POINTER(ctypes.c_uint8)), ("value", ctypes.POINTER(ctypes.c_uint8)),
                ("namelen", ctypes.c_size_t), ("valuelen", ctypes.c_size_t),
                ("flags", ctypes.c_uint8)]


LIB = ctypes.CDLL(ctypes.util.find_library("nghttp2") or "libnghttp2.so.14")
LIB.nghttp2_hd_inflate_new.argtypes = [ctypes.POINTER(ctypes.c_void_p)]
LIB.nghttp2_hd_inflate_del.argtypes = [ctypes.c_void_p]
LIB.nghttp2_hd_inflate_hd2.argtypes = [ctypes.c_void_p, ctypes.POINTER(NV),
                                       ctypes.POINTER(ctypes.c_int), ctypes.c_char_p,
                                       ctypes.c_size_t, ctypes.c_int]
LIB.nghttp2_hd_inflate_hd2.restype = ctypes.c_ssize_t
LIB.nghttp2_hd_inflate_end_headers.argtypes = [ctypes.c_void_p]


class Inflater:
    """One connection's HPACK decoder (its dynamic table follows the blocks)."""

    def __init__(self):
        self.h = ctypes.c_void_p()
        if LIB.nghttp2_hd_inflate_new(ctypes.byref(self.h)) != 0:
            raise RuntimeError("nghttp2_hd_inflate_new failed")

    def block(self, data):
        out, off = [], 0
        nv, flags = NV(), ctypes.c_int()
        while True:
            rest = data[off:]
            rv = LIB.nghttp2_hd_inflate_hd2(self.h, ctypes.byref(nv), ctypes.byref(flags), rest,
                                            len(rest), 1)
            if rv < 0:
                raise RuntimeError("HPACK: the server's header block does not decode (%d)" % rv)
            off += rv
            if flags.value & 0x02:
                out.append((ctypes.string_at(nv.name, nv.namelen).decode("latin-1"),
                            ctypes.string_at(nv.value, nv.valuelen).decode("latin-1")))
            if flags.value & 0x01:
                LIB.nghttp2_hd_inflate_end_headers(self.h)
                return out
            if rv == 0 and not flags.value & 0x02:
                return out

    def __del__(self):
        if self.h:
            LIB.nghttp2_hd_inflate_del(self.h)


# ---- a raw HTTP/2 connection ----------------------------------------------------------------

def frame(ftype, flags, sid, payload=b""):
    return struct.pack(">I", len(payload))[1:] + bytes([ftype, flags]) + \
        struct.pack(">I", sid) + payload


class Conn:
    """A client connection whose frames a thread reads into `events`:
    ("frame", type, flags, sid, payload, headers-or-None) and last
    ("closed", why)."""

    def __init__(self, port, handshake=True, ack_pings=True):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.events, self.cv = [], threading.Condition()
        self.ack_pings = ack_pings
        self.hp = Inflater()
        self.block = None  # (type, flags, sid, bytes) of a header block awaiting CONTINUATION
        self.next_id = 1
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()
        if handshake:
            self.send(PREFACE + frame(SETTINGS, 0, 0))
            self.wait(lambda e: e[0] == "frame" and e[1] == SETTINGS and not e[2] & ACK, 5,
                      "the server's SETTINGS")
            self.send(frame(SETTINGS, ACK, 0))

    def send(self, data):
        """False when the server closed meanwhile (what flood rows expect)."""
        try:
            self.s.sendall(data)
            return True
        except OSError:
            return False

    def _recv_exact(self, n, buf):
        while len(buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("closed by the server")
            buf += chunk
        return buf

    def _read(self):
        buf, why = b"", "closed by the server"
        self.s.settimeout(None)
        try:
            while True:
                buf = self._recv_exact(9, buf)
                n = int.from_bytes(buf[:3], "big")
                buf = self._recv_exact(9 + n, buf)
                ftype, flags = buf[3], buf[4]
                sid = int.from_bytes(buf[5:9], "big") & 0x7fffffff
                payload, buf = buf[9:9 + n], buf[9 + n:]
                self._frame(ftype, flags, sid, payload)
        except EOFError:
            pass
        except OSError as e:
            why = "connection error: %s" % e
        with self.cv:
            self.events.append(("closed", why))
            self.cv.notify_all()

    def _frame(self, ftype, flags, sid, payload):
        headers = None
        if ftype in (HEADERS, CONTINUATION):
            if ftype == HEADERS:
                if flags & 0x8:  # PADDED
                    pad = payload[0]
                    payload = payload[1:len(payload) - pad]
                if flags & 0x20:  # PRIORITY
                    payload = payload[5:]
                self.block = (flags, sid, payload)
            else:
                self.block = (self.block[0], sid, self.block[2] + payload)
            if not flags & END_HEADERS:
                return
            flags, sid, block = self.block
            self.block = None
            ftype, headers = HEADERS, self.hp.block(block)
        if ftype == PING and not flags & ACK and self.ack_pings:
            self.send(frame(PING, ACK, 0, payload))
        with self.cv:
            self.events.append(("frame", ftype, flags, sid, payload, headers))
            self.cv.notify_all()

    def wait(self, pred, timeout, what):
        """The first event matching pred; AssertionError naming `what` and
        what came instead when none does within the timeout."""
        deadline = time.time() + timeout
        with self.cv:
            while True:
                for e in self.events:
                    if pred(e):
                        return e
                left = deadline - time.time()
                if left <= 0 or self.events and self.events[-1][0] == "closed":
                    raise AssertionError("expected %s; got %s" % (what, self.describe()))
                self.cv.wait(min(left, 0.2))

    def describe(self):
        with self.cv:
            evs = list(self.events)
        out = []
        for e in evs[-8:]:
            if e[0] == "closed":
                out.append(e[1])
            else:
                out.append(describe_frame(e))
        more = "%d events, last: " % len(evs) if len(evs) > 8 else ""
        return more + ("; ".join(out) or "nothing")

    def headers(self, sid, path, extra=(), end_stream=False, content_type="application/grpc"):
        hdrs = [(":method", "POST"), (":scheme", "http"), (":path", path),
                (":authority", "127.0.0.1"), ("te", "trailers")]
        if content_type:
            hdrs.append(("content-type", content_type))
        hdrs += list(extra)
        flags = END_HEADERS | (END_STREAM if end_stream else 0)
        return frame(HEADERS, flags, sid, hpack_literals(hdrs))

    def stream_id(self):
        sid, self.next_id = self.next_id, self.next_id + 2
        return sid

    def close(self):
        try:
            self.s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.s.close()
        self.t.join(5)


def describe_frame(e):
    _, ftype, flags, sid, payload, headers = e
    names = {DATA: "DATA", HEADERS: "HEADERS", RST_STREAM: "RST_STREAM", SETTINGS: "SETTINGS",
             PING: "PING", GOAWAY: "GOAWAY", WINDOW_UPDATE: "WINDOW_UPDATE"}
    name = names.get(ftype, "type %d" % ftype)
    if ftype == GOAWAY:
        code = int.from_bytes(payload[4:8], "big")
        return "GOAWAY %s %r" % (ERRORS.get(code, code), payload[8:].decode("latin-1"))
    if ftype == RST_STREAM:
        code = int.from_bytes(payload[:4], "big")
        return "RST_STREAM %d %s" % (sid, ERRORS.get(code, code))
    if ftype == HEADERS:
        return "HEADERS %d %s" % (sid, dict(headers))
    return "%s %d flags %#x len %d" % (name, sid, flags, len(payload))


def grpc_msg(body, flag=0, declared=None):
    return bytes([flag]) + struct.pack(">I", len(body) if declared is None else declared) + body


# ---- expectations ---------------------------------------------------------------------------

def expect_goaway(code, words):
    """A GOAWAY with `code` whose debug data holds `words`, then the close."""
    def check(c):
        e = c.wait(lambda e: e[0] == "frame" and e[1] == GOAWAY, 10,
                   "GOAWAY %s (%s)" % (code, words))
        got = int.from_bytes(e[4][4:8], "big")
        debug = e[4][8:].decode("latin-1")
        if got != CODE[code] or words.lower() not in debug.lower():
            raise AssertionError("expected GOAWAY %s with %r; got %s" % (code, words,
                                                                         describe_frame(e)))
        c.wait(lambda e: e[0] == "closed", 10, "the connection closed after the GOAWAY")
        return describe_frame(e)
    return check


def expect_closed(c):
    """Closed with nothing, or with a GOAWAY PROTOCOL_ERROR."""
    c.wait(lambda e: e[0] == "closed", 10, "the connection closed")
    frames = [e for e in c.events if e[0] == "frame"]
    if any(e[1] != GOAWAY or int.from_bytes(e[4][4:8], "big") != CODE["PROTOCOL_ERROR"]
           for e in frames):
        raise AssertionError("expected a close (maybe GOAWAY PROTOCOL_ERROR); got %s"
                             % c.describe())
    return "closed" + (" after " + describe_frame(frames[0]) if frames else " without a frame")


def expect_rst(sid, code):
    def check(c):
        e = c.wait(lambda e: e[0] == "frame" and e[1] in (RST_STREAM, GOAWAY) and
                   (e[3] == sid or e[1] == GOAWAY), 10, "RST_STREAM %d %s" % (sid, code))
        if e[1] != RST_STREAM or int.from_bytes(e[4][:4], "big") != CODE[code]:
            raise AssertionError("expected RST_STREAM %d %s; got %s" % (sid, code,
                                                                        describe_frame(e)))
        return describe_frame(e)
    return check


def expect_grpc(sid, status, words):
    """The stream ends with grpc-status `status` and a grpc-message holding words."""
    def check(c):
        e = c.wait(lambda e: e[0] == "frame" and (e[3] == sid and e[1] in (HEADERS, RST_STREAM)
                                                   and e[2] & END_STREAM or e[1] == RST_STREAM
                                                   and e[3] == sid or e[1] == GOAWAY), 10,
                   "grpc-status %d on stream %d" % (status, sid))
        h = dict(e[5] or [])
        if e[1] != HEADERS or h.get("grpc-status") != str(status) or \
                words.lower() not in pct_decode(h.get("grpc-message", "")).lower():
            raise AssertionError("expected grpc-status %d with %r; got %s"
                                 % (status, words, describe_frame(e)))
        return "grpc-status %s: %s" % (h["grpc-status"], pct_decode(h.get("grpc-message", "")))
    return check


def pct_decode(s):
    out, i = bytearray(), 0
    b = s.encode("latin-1")
    while i < len(b):
        if b[i] == 0x25 and i + 2 < len(b) + 0 and i + 3 <= len(b):
            try:
                out.append(int(b[i + 1:i + 3], 16))
                i += 3
                continue
            except ValueError:
                pass
        out.append(b[i])
        i += 1
    return out.decode("utf-8", "replace")


def empty_call(c, timeout=10):
    """A gRPC EmptyCall on c: grpc-status 0 with one empty message."""
    sid = c.stream_id()
    c.send(c.headers(sid, EMPTY_CALL) + frame(DATA, END_STREAM, sid, grpc_msg(b"")))
    e = c.wait(lambda e: e[0] == "frame" and e[3] == sid and e[1] in (HEADERS, RST_STREAM)
               and (e[2] & END_STREAM or e[1] == RST_STREAM) or e[0] == "frame" and
               e[1] == GOAWAY, timeout, "EmptyCall's trailers on stream %d" % sid)
    h = dict(e[5] or [])
    if e[1] != HEADERS or h.get("grpc-status") != "0":
        raise AssertionError("EmptyCall on stream %d: %s" % (sid, describe_frame(e)))


# ---- the rows ---------------------------------------------------------------------------------
# Each row: (name, what it sends, run(conn) -> None, expect(conn) -> description). run gets a
# handshaken connection unless the row's name is in RAW.

def bad_preface(c):
    c.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" + frame(SETTINGS, 0, 0))


def no_settings_first(c):
    c.send(PREFACE + frame(PING, 0, 0, b"12345678"))


def oversized_frame(c):
    sid = c.stream_id()
    c.send(c.headers(sid, UNARY_CALL))
    c.send(frame(DATA, 0, sid, b"\0" * 16385))


def bad_length_prefix(c):
    sid = c.stream_id()
    c.send(c.headers(sid, UNARY_CALL) + frame(DATA, END_STREAM, sid,
                                              grpc_msg(b"0123456789", declared=100)))
    return sid


def compressed_no_encoding(c):
    sid = c.stream_id()
    c.send(c.headers(sid, UNARY_CALL) + frame(DATA, END_STREAM, sid,
                                              grpc_msg(b"\x1f\x8b\x08\0", flag=1)))
    return sid


def over_payload_limit(c):
    sid = c.stream_id()
    c.send(c.headers(sid, UNARY_CALL) + frame(DATA, 0, sid,
                                              grpc_msg(b"x" * 1000, declared=64 << 20)))
    return sid


def header_flood(c):
    sid = c.stream_id()
    extra = [("x-flood-%03d" % i, "v" * 1000) for i in range(24)]  # ~24 KiB > 16 KiB
    block = hpack_literals([(":method", "POST"), (":scheme", "http"), (":path", EMPTY_CALL),
                            (":authority", "127.0.0.1"), ("content-type", "application/grpc"),
                            ("te", "trailers")] + extra)
    chunks = [block[i:i + 12000] for i in range(0, len(block), 12000)]
    out = frame(HEADERS, 0, sid, chunks[0])
    for i, ch in enumerate(chunks[1:]):
        out += frame(CONTINUATION, END_HEADERS if i == len(chunks) - 2 else 0, sid, ch)
    c.send(out + frame(DATA, END_STREAM, sid, grpc_msg(b"")))
    return sid


def continuation_flood(c):
    sid = c.stream_id()
    c.send(frame(HEADERS, 0, sid, hpack_literals([(":method", "POST"), (":path", EMPTY_CALL)])))
    one = frame(CONTINUATION, 0, sid, hpack_literals([("x-more", "m" * 1000)]))
    for _ in range(1000):
        if not c.send(one):
            break


def empty_continuation_flood(c):
    sid = c.stream_id()
    c.send(frame(HEADERS, 0, sid, hpack_literals([(":method", "POST"), (":path", EMPTY_CALL)])))
    c.send(frame(CONTINUATION, 0, sid) * 10000)


def rapid_reset(c):
    out = b""
    for _ in range(5000):
        sid = c.stream_id()
        out += c.headers(sid, EMPTY_CALL) + frame(RST_STREAM, 0, sid, struct.pack(">I", 8))
        if len(out) > 60000:
            if not c.send(out):
                return
            out = b""
    c.send(out)


def ping_flood(c):
    c.send(frame(PING, 0, 0, b"flooding") * 10000)


def settings_flood(c):
    c.send(frame(SETTINGS, 0, 0) * 10000)


def window_overflow_conn(c):
    c.send(frame(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0x7fffffff)))


def window_overflow_stream(c):
    sid = c.stream_id()
    c.send(c.headers(sid, UNARY_CALL))
    c.send(frame(WINDOW_UPDATE, 0, sid, struct.pack(">I", 0x7fffffff)))
    return sid


def lower_stream_id(c):
    c.next_id = 5
    empty_call(c)
    c.send(c.headers(3, EMPTY_CALL, end_stream=True))


RAW = {"bad preface", "no SETTINGS first"}
ROWS = [
    ("bad preface", "the preface with SM replaced by XX", bad_preface, expect_closed),
    ("no SETTINGS first", "the preface, then a PING", no_settings_first,
     expect_goaway("PROTOCOL_ERROR", "")),
    ("frame over max size", "DATA of 16385 bytes (SETTINGS_MAX_FRAME_SIZE is 16384)",
     oversized_frame, expect_goaway("FRAME_SIZE_ERROR", "over SETTINGS_MAX_FRAME_SIZE")),
    ("bad length prefix", "a gRPC message declaring 100 bytes, 10 sent, END_STREAM",
     bad_length_prefix, lambda sid: expect_grpc(sid, 13, "ended before its message")),
    ("compressed, no grpc-encoding", "compressed flag 1 without grpc-encoding",
     compressed_no_encoding, lambda sid: expect_grpc(sid, 13, "compressed message without")),
    ("past the payload limit", "a message declaring 64 MiB (limit 8 MiB)", over_payload_limit,
     lambda sid: expect_grpc(sid, 8, "larger than max")),
    ("header flood", "a ~24 KiB header list in HEADERS + CONTINUATION (limit 16 KiB)",
     header_flood, lambda sid: expect_grpc(sid, 8, "header list of")),
    ("CONTINUATION flood", "HEADERS, then 1000 CONTINUATIONs of 1 KiB without END_HEADERS",
     continuation_flood, expect_goaway("ENHANCE_YOUR_CALM", "CONTINUATION flood")),
    ("empty CONTINUATION flood", "HEADERS, then 10000 empty CONTINUATIONs",
     empty_continuation_flood, expect_goaway("ENHANCE_YOUR_CALM", "CONTINUATION flood")),
    ("rapid reset", "5000 x (HEADERS, RST_STREAM CANCEL) (CVE-2023-44487)", rapid_reset,
     expect_goaway("ENHANCE_YOUR_CALM", "rapid reset")),
    ("PING flood", "10000 PINGs", ping_flood, expect_goaway("ENHANCE_YOUR_CALM", "PING flood")),
    ("SETTINGS flood", "10000 empty SETTINGS", settings_flood,
     expect_goaway("ENHANCE_YOUR_CALM", "SETTINGS flood")),
    ("WINDOW_UPDATE overflow (connection)", "the connection window past 2^31-1",
     window_overflow_conn, expect_goaway("FLOW_CONTROL_ERROR", "")),
    ("WINDOW_UPDATE overflow (stream)", "a stream's window past 2^31-1", window_overflow_stream,
     lambda sid: expect_rst(sid, "FLOW_CONTROL_ERROR")),
    ("lower stream id", "EmptyCall on stream 5, then HEADERS opening stream 3",
     lower_stream_id, expect_goaway("PROTOCOL_ERROR", "stream ids must increase")),
]


def run_row(port, name, run, expect):
    c = Conn(port, handshake=name not in RAW)
    try:
        sid = run(c)
        check = expect(sid) if sid is not None else expect
        return check(c)
    finally:
        c.close()


def keepalive(cli, work):
    """A provider with heartbeat=1000: an idle connection gets a PING; answered,
    it stays; the next one unanswered, GOAWAY NO_ERROR naming keepalive."""
    p = Proc("provider-keepalive", [cli, "demo", "provider", "--protocol", "dubbo,tri",
                                    "--port", "0", "--host", "127.0.0.1", "--registry", "none",
                                    "--param", "heartbeat=1000"], log_dir=work)
    try:
        m = p.wait_line(r"listening on .*:(\d+)", 30)
        if not m:
            raise AssertionError("the heartbeat=1000 provider did not start")
        port = int(m.group(1))
        c = Conn(port, ack_pings=False)
        try:
            t0 = time.time()
            e = c.wait(lambda e: e[0] == "frame" and e[1] == PING and not e[2] & ACK, 5,
                       "a keepalive PING within 5 s")
            first = time.time() - t0
            c.send(frame(PING, ACK, 0, e[4]))
            def pings():
                return sum(1 for e in c.events if e[0] == "frame" and e[1] == PING
                           and not e[2] & ACK)
            c.wait(lambda e: pings() >= 2, 5, "a second PING")
            t1 = time.time()
            g = expect_goaway("NO_ERROR", "keepalive")(c)
            return "PING after %.1f s idle, answered; the next unanswered: %s after %.1f s" % (
                first, g, time.time() - t1)
        finally:
            c.close()
    finally:
        p.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True)
    ap.add_argument("--work", default="/tmp/h2-malformed")
    ap.add_argument("--only", help="run the rows whose name contains this")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    prov = Proc("provider", [a.cli, "demo", "provider", "--protocol", "dubbo,tri", "--port", "0",
                             "--host", "127.0.0.1", "--registry", "none"], log_dir=a.work)
    m = prov.wait_line(r"listening on .*:(\d+)", 30)
    if not m:
        print("h2-malformed: the provider did not start; see %s/provider.log" % a.work)
        prov.stop(signal.SIGKILL)
        return 1
    port = int(m.group(1))
    failed = 0
    t_all = time.time()
    try:
        standing = Conn(port)  # open through every row: must keep working
        empty_call(standing)
        for name, what, run, expect in ROWS:
            if a.only and a.only.lower() not in name.lower():
                continue
            t0 = time.time()
            try:
                got = run_row(port, name, run, expect)
                after = Conn(port)
                try:
                    empty_call(after)
                finally:
                    after.close()
                empty_call(standing)
                verdict = "PASS"
            except AssertionError as e:
                got, verdict = str(e), "FAIL"
                failed += 1
            print("%-4s %-36s %5.2fs  %s -> %s" % (verdict, name, time.time() - t0, what, got),
                  flush=True)
        standing.close()
        if not a.only or "keepalive" in a.only.lower():
            t0 = time.time()
            try:
                got, verdict = keepalive(a.cli, a.work), "PASS"
            except AssertionError as e:
                got, verdict = str(e), "FAIL"
                failed += 1
            print("%-4s %-36s %5.2fs  %s" % (verdict, "keepalive", time.time() - t0, got),
                  flush=True)
        if not prov.alive():
            print("FAIL the provider died (see %s/provider.log)" % a.work)
            failed += 1
    finally:
        rc = prov.stop()
    if rc != 0:
        print("FAIL the provider exited %s on SIGTERM (see %s/provider.log)" % (rc, a.work))
        failed += 1
    print("h2-malformed: %s, %d failed, %.1f s" % ("ok" if not failed else "FAILED", failed,
                                                   time.time() - t_all))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
