"""Just enough of the Dubbo wire format to write hostile clients in Python:
requests of DemoService.sayHello(String) with strings of any size, and a
reader of the answers' headers.

Frame: 16-byte header (magic da bb, flags, status, 8-byte id, 4-byte body
length), body = hessian2 request: dubbo version, service path, service
version, method, parameter descriptor, arguments, attachments (a map).
"""
import socket
import struct

from faultlib import IFACE

MAGIC = b"\xda\xbb"
FLAG_REQUEST = 0x80
FLAG_TWOWAY = 0x40
FLAG_EVENT = 0x20
HESSIAN2 = 2
STATUS_OK = 20
STATUS_OVERLOAD = 100  # SERVER_THREADPOOL_EXHAUSTED


def h2_string(s):
    """A hessian2 string of ASCII text (bytes or str): chunks of 32768 chars."""
    if isinstance(s, str):
        s = s.encode("ascii")
    out = bytearray()
    while len(s) > 0x8000:
        out += b"R" + struct.pack(">H", 0x8000) + s[:0x8000]
        s = s[0x8000:]
    n = len(s)
    if n < 32:
        out += bytes([n]) + s
    elif n < 1024:
        out += bytes([0x30 + (n >> 8), n & 0xFF]) + s
    else:
        out += b"S" + struct.pack(">H", n) + s
    return bytes(out)


def h2_map(d):
    out = bytearray(b"H")
    for k, v in d.items():
        out += h2_string(k) + h2_string(v)
    return bytes(out + b"Z")


def request_body(method, desc, args, iface=IFACE):
    """args: already encoded hessian2 values."""
    return (h2_string("2.0.2") + h2_string(iface) + h2_string("") + h2_string(method)
            + h2_string(desc) + b"".join(args)
            + h2_map({"path": iface, "interface": iface}))


def header(rid, body_len, flags=FLAG_REQUEST | FLAG_TWOWAY | HESSIAN2, status=0):
    return MAGIC + bytes([flags, status]) + struct.pack(">QI", rid, body_len)


def say_hello_frame(rid, text):
    body = request_body("sayHello", "Ljava/lang/String;", [h2_string(text)])
    return header(rid, len(body)) + body


def heartbeat_frame(rid):
    body = b"N"
    return header(rid, len(body), FLAG_REQUEST | FLAG_TWOWAY | FLAG_EVENT | HESSIAN2) + body


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        b = sock.recv(min(n - len(buf), 1 << 20))
        if not b:
            raise ConnectionError(f"closed after {len(buf)} of {n} bytes")
        buf += b
    return bytes(buf)


def read_response(sock, keep_body=True):
    """(status, id, body or its length) of the next frame."""
    h = recv_exact(sock, 16)
    if h[:2] != MAGIC:
        raise ValueError(f"bad magic {h[:2].hex()}")
    status = h[3]
    rid, n = struct.unpack(">QI", h[4:16])
    if keep_body:
        return status, rid, recv_exact(sock, n)
    left = n
    while left:
        b = sock.recv(min(left, 1 << 20))
        if not b:
            raise ConnectionError(f"closed with {left} body bytes to go")
        left -= len(b)
    return status, rid, n


def call_say_hello(host, port, text, timeout=5.0):
    """One sayHello over a fresh connection: (status, body)."""
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(say_hello_frame(1, text))
        status, rid, body = read_response(s)
        return status, body
