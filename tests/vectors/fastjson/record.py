#!/usr/bin/env python3
"""A loopback recorder between a Dubbo consumer and a provider: forwards every
byte both ways and writes each whole Dubbo frame it sees, in order, to
OUT/NNN-{c2p,p2c}.hex (header line, then body line). Used by regenerate.sh.

    record.py LISTEN_PORT PROVIDER_PORT OUT_DIR   (prints "READY <port>")
"""
import os
import socket
import sys
import threading

lock = threading.Lock()
count = [0]


def frames(buf):
    """Whole frames at the front of buf, and what is left."""
    out = []
    while len(buf) >= 16:
        n = int.from_bytes(buf[12:16], "big")
        if len(buf) < 16 + n:
            break
        out.append(bytes(buf[: 16 + n]))
        del buf[: 16 + n]
    return out


def pump(src, dst, tag, outdir):
    buf = bytearray()
    while True:
        try:
            data = src.recv(65536)
        except OSError:
            data = b""
        if not data:
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            return
        buf += data
        for f in frames(buf):
            with lock:
                count[0] += 1
                name = os.path.join(outdir, "%03d-%s.hex" % (count[0], tag))
            os.makedirs(outdir, exist_ok=True)
            with open(name, "w") as fh:
                fh.write(f[:16].hex() + "\n" + f[16:].hex() + "\n")
        dst.sendall(data)


def main():
    listen, target, outdir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    os.makedirs(outdir, exist_ok=True)
    # ::1: Java's consumer rewrites every 127.x host to the machine's address
    srv = socket.socket(socket.AF_INET6)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("::1", listen))
    srv.listen(8)
    print("READY %d" % srv.getsockname()[1], flush=True)
    while True:
        c, _ = srv.accept()
        p = socket.create_connection(("::1", target))
        threading.Thread(target=pump, args=(c, p, "c2p", outdir), daemon=True).start()
        threading.Thread(target=pump, args=(p, c, "p2c", outdir), daemon=True).start()


if __name__ == "__main__":
    main()
