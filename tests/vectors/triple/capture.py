#!/usr/bin/env python3
"""Captures and decodes Triple (HTTP/2) traffic between two peers, for the vectors beside it.

  capture.py proxy LISTEN_PORT TARGET_PORT OUT_DIR
      A TCP proxy on [::1]:LISTEN_PORT to [::1]:TARGET_PORT. Connection N's bytes go to
      OUT_DIR/connN.c2s (client to server) and OUT_DIR/connN.s2c, raw. Runs until killed.

  capture.py decode RAW_DIR CONN [--vectors OUT_DIR NAME]
      Prints every HTTP/2 frame of connection CONN, both directions, header blocks decoded
      with HPACK. With --vectors, writes NAME.req.hex / NAME.resp.hex (the gRPC messages of
      the first request stream, one per line: 5-byte prefix, a space, the message) and
      NAME.headers.txt (every header block of that stream, decoded, and its raw HPACK hex).

Only the proxy is standard library; decode needs the hpack package (pip install hpack==4.0.0,
e.g. into a throw-away venv): it is analysis only, nothing of dubbo-c uses it.
"""
import os
import socket
import sys
import threading

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
TYPES = {0: "DATA", 1: "HEADERS", 2: "PRIORITY", 3: "RST_STREAM", 4: "SETTINGS", 5: "PUSH_PROMISE",
         6: "PING", 7: "GOAWAY", 8: "WINDOW_UPDATE", 9: "CONTINUATION"}
SETTINGS = {1: "HEADER_TABLE_SIZE", 2: "ENABLE_PUSH", 3: "MAX_CONCURRENT_STREAMS",
            4: "INITIAL_WINDOW_SIZE", 5: "MAX_FRAME_SIZE", 6: "MAX_HEADER_LIST_SIZE"}


def pump(src, dst, log):
    try:
        while True:
            b = src.recv(65536)
            if not b:
                break
            log.write(b)
            log.flush()
            dst.sendall(b)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def proxy(listen_port, target_port, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    srv = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("::1", listen_port))
    srv.listen(16)
    print("PROXY [::1]:%d -> [::1]:%d" % (listen_port, target_port), flush=True)
    n = 0
    while True:
        c, _ = srv.accept()
        n += 1
        s = socket.create_connection(("::1", target_port))
        for a, b, d in ((c, s, "c2s"), (s, c, "s2c")):
            log = open(os.path.join(out_dir, "conn%d.%s" % (n, d)), "wb")
            threading.Thread(target=pump, args=(a, b, log), daemon=True).start()


def frames(data):
    """(type, flags, stream, payload) of each frame; the client preface is skipped."""
    if data.startswith(PREFACE):
        data = data[len(PREFACE):]
    i = 0
    while i + 9 <= len(data):
        ln = int.from_bytes(data[i:i + 3], "big")
        t, fl = data[i + 3], data[i + 4]
        sid = int.from_bytes(data[i + 5:i + 9], "big") & 0x7FFFFFFF
        yield t, fl, sid, data[i + 9:i + 9 + ln]
        i += 9 + ln


def header_block(t, fl, p):
    """The header block fragment of a HEADERS frame (padding and priority removed)."""
    if t == 1:
        pad = 0
        if fl & 0x8:
            pad = p[0]
            p = p[1:]
        if fl & 0x20:
            p = p[5:]
        return p[:len(p) - pad] if pad else p
    return p


def flag_names(t, fl):
    names = []
    if t in (0, 1) and fl & 1:
        names.append("END_STREAM")
    if t in (4, 6) and fl & 1:
        names.append("ACK")
    if t in (1, 9) and fl & 4:
        names.append("END_HEADERS")
    if t in (0, 1) and fl & 8:
        names.append("PADDED")
    if t == 1 and fl & 0x20:
        names.append("PRIORITY")
    return "|".join(names) or "-"


def grpc_messages(data):
    out = []
    i = 0
    while i + 5 <= len(data):
        ln = int.from_bytes(data[i + 1:i + 5], "big")
        out.append((data[i:i + 5], data[i + 5:i + 5 + ln]))
        i += 5 + ln
    if i != len(data):
        out.append((b"", data[i:]))  # a cut message: shown as is
    return out


def decode(raw_dir, conn, vectors=None):
    import hpack

    per_stream = {}  # (direction, stream) -> {"data": bytes, "blocks": [(headers, raw)]}
    for d in ("c2s", "s2c"):
        data = open(os.path.join(raw_dir, "conn%s.%s" % (conn, d)), "rb").read()
        dec = hpack.Decoder()
        dec.max_allowed_table_size = 1 << 20
        print("==== %s (%d bytes)%s" % (d, len(data), " starts with the client preface" if data.startswith(PREFACE) else ""))
        pending = b""
        ended = False
        for t, fl, sid, p in frames(data):
            name = TYPES.get(t, "type%d" % t)
            print("-- %s stream=%d flags=%s len=%d" % (name, sid, flag_names(t, fl), len(p)))
            st = per_stream.setdefault((d, sid), {"data": b"", "blocks": []})
            if t in (1, 9):
                if t == 1:
                    ended = bool(fl & 1)
                pending += header_block(t, fl, p)
                if fl & 4:
                    hs = dec.decode(pending, raw=True)
                    for k, v in hs:
                        print("   %s: %s" % (k.decode("latin-1"), v.decode("latin-1")))
                    st["blocks"].append((hs, pending, ended))
                    pending = b""
            elif t == 0:
                st["data"] += p
                print("   " + p.hex())
            elif t == 4:
                for j in range(0, len(p), 6):
                    k = int.from_bytes(p[j:j + 2], "big")
                    print("   %s=%d" % (SETTINGS.get(k, str(k)), int.from_bytes(p[j + 2:j + 6], "big")))
            elif t == 8:
                print("   increment=%d" % (int.from_bytes(p, "big") & 0x7FFFFFFF))
            elif t in (3, 7):
                print("   " + p.hex() + (("  " + p[8:].decode("utf-8", "replace")) if t == 7 and len(p) > 8 else ""))
            elif t == 6:
                print("   " + p.hex())
        for (dd, sid), st in sorted(per_stream.items()):
            if dd == d and st["data"]:
                print("-- stream %d gRPC messages:" % sid)
                for pre, m in grpc_messages(st["data"]):
                    print("   prefix %s  message(%d) %s" % (pre.hex(), len(m), m.hex()))
    if vectors:
        out_dir, name = vectors
        sid = min(s for (dd, s) in per_stream if dd == "c2s" and s % 2 == 1)
        for d, suffix in (("c2s", "req"), ("s2c", "resp")):
            st = per_stream.get((d, sid), {"data": b""})
            with open(os.path.join(out_dir, "%s.%s.hex" % (name, suffix)), "w") as f:
                f.write("# %s %s: the DATA of stream %d, one gRPC message a line: prefix (flag, length) message\n"
                        % (name, "request" if d == "c2s" else "response", sid))
                for pre, m in grpc_messages(st["data"]):
                    f.write("%s %s\n" % (pre.hex(), m.hex()))
        with open(os.path.join(out_dir, "%s.headers.txt" % name), "w") as f:
            f.write("# %s: the header blocks of stream %d in wire order, decoded; after each, its HPACK bytes\n"
                    "# (Java's encoder; the dynamic table carries over from the blocks before it on the same\n"
                    "# connection, see README.md)\n" % (name, sid))
            for d, what in (("c2s", "request headers"), ("s2c", "response headers")):
                for n, (hs, raw, end) in enumerate(per_stream.get((d, sid), {"blocks": []})["blocks"]):
                    label = what
                    if d == "s2c" and end:
                        label = "response trailers" if n > 0 else "response trailers-only (HEADERS with END_STREAM)"
                    f.write("\n[%s]%s\n" % (label, " END_STREAM" if end and d == "c2s" else ""))
                    for k, v in hs:
                        f.write("%s: %s\n" % (k.decode("latin-1"), v.decode("latin-1")))
                    f.write("# hpack %s\n" % raw.hex())


def main(argv):
    if len(argv) == 5 and argv[1] == "proxy":
        proxy(int(argv[2]), int(argv[3]), argv[4])
    elif len(argv) in (4, 7) and argv[1] == "decode":
        vec = (argv[5], argv[6]) if len(argv) == 7 and argv[4] == "--vectors" else None
        decode(argv[2], argv[3], vec)
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
