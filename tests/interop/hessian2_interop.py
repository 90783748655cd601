#!/usr/bin/env python3
"""Hessian 2.0 interop test: dubbo-c's `dubbo hessian2` CLI against the real
peers, Caucho Hessian 4.0.38 (Java) and hessian.js 2.11, in both directions.

(a) we read what the peers wrote: for every vector of
    tests/vectors/hessian2/{java,js}.tsv, `dubbo hessian2 decode --hex` prints
    exactly the expected typed JSON, and `dubbo hessian2 encode --hex JSON...`
    gives the peer's bytes (all java vectors; js vectors too, except those
    listed in encode-skip.txt, where hessian.js itself differs from Java);
    plus the "encode:" lines of the cases file.
(b) the peers read what we wrote: our encoding of every vector is read by
    Java (Hessian2Input, then written again by a fresh Hessian2Output and
    compared with Java's own bytes for the case) and by hessian.js (decoded
    and compared structurally with its decoding of the peer's vector).

Prints one line per failure and a summary; exit status 0 only if all pass.
Run by ctest (tests/interop/CMakeLists.txt); by hand:
  tests/interop/hessian2_interop.py --cli build/x/tools/dubbo --source . --work /tmp/h2
"""
import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys
import time

JAVA_OPENS = ["--add-opens", "java.base/java.lang=ALL-UNNAMED",
              "--add-opens", "java.base/java.util=ALL-UNNAMED",
              "--add-opens", "java.base/java.math=ALL-UNNAMED"]
# Longer arguments than this go through stdin (Linux caps one argv string at 128 KiB).
MAX_ARG = 100_000
CLIP = 300


def clip(s):
    """s shortened to CLIP characters, with control characters made visible."""
    t = s if len(s) <= CLIP else s[:CLIP]
    t = "".join(c if c >= " " and not "\x7f" <= c <= "\x9f" else "\\x%02x" % ord(c) for c in t)
    return t if len(s) <= CLIP else t + "...(%d chars)" % len(s)


def first_diff(a, b):
    i = 0
    n = min(len(a), len(b))
    while i < n and a[i] == b[i]:
        i += 1
    return i


def show_diff(what, want, got):
    """want/got side by side, from a little before the first difference."""
    d = first_diff(want, got)
    start = max(0, d - 40)
    return "%s differs at char %d:\n    want ...%s\n    got  ...%s" % (
        what, d, clip(want[start:]), clip(got[start:]))


class Vector:
    def __init__(self, file, name, hex_, json):
        self.file, self.name, self.hex, self.json = file, name, hex_, json
        self.ours = None  # our encoding (hex), once computed

    @property
    def id(self):
        return "%s %s" % (self.file, self.name)


def load_vectors(path, file):
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line:
                continue
            fields = line.split("\t")
            if len(fields) < 3:
                sys.exit("%s:%d: malformed vector line" % (path, n))
            out.append(Vector(file, fields[0], fields[1], fields[2:]))
    return out


def load_skips(path):
    skips = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                file, name, reason = line.split(None, 2)
                skips[(file, name)] = reason
    return skips


def load_encode_only(path):
    """The "encode:NAME JSON" lines of the cases file."""
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line.startswith("encode:"):
                key, json = line.split(None, 1)
                out.append((key[len("encode:"):], json))
    return out


class Cli:
    def __init__(self, path):
        self.path = path

    def run(self, args, stdin=None):
        p = subprocess.run([self.path, "hessian2"] + args, input=stdin, capture_output=True,
                           timeout=60)
        return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")

    def decode(self, hex_):
        """Typed JSON lines printed for the stream hex_ (list), or raise RuntimeError."""
        if len(hex_) <= MAX_ARG:
            rc, out, err = self.run(["decode", "--hex", hex_])
        else:
            rc, out, err = self.run(["decode", "--hex"], stdin=hex_.encode())
        if rc != 0:
            raise RuntimeError("decode exited %d: %s" % (rc, clip(err.strip())))
        return out.rstrip("\n").split("\n") if out else []

    def encode(self, jsons):
        """Hex of the stream of typed JSON values, or raise RuntimeError."""
        if sum(len(j) for j in jsons) <= MAX_ARG:
            rc, out, err = self.run(["encode", "--hex"] + jsons)
        else:
            rc, out, err = self.run(["encode", "--hex"], stdin=("\n".join(jsons) + "\n").encode())
        if rc != 0:
            raise RuntimeError("encode exited %d: %s" % (rc, clip(err.strip())))
        return out.strip()


def check_vector(cli, v, skipped):
    """Part (a) for one vector; returns a list of failure texts and sets v.ours."""
    fails = []
    try:
        got = cli.decode(v.hex)
        if got != v.json:
            if len(got) != len(v.json):
                fails.append("%s: decode printed %d values, want %d: %s" % (
                    v.id, len(got), len(v.json), clip(" | ".join(got))))
            else:
                for i, (w, g) in enumerate(zip(v.json, got)):
                    if w != g:
                        fails.append("%s: value %d: %s" % (v.id, i, show_diff("typed JSON", w, g)))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        fails.append("%s: %s" % (v.id, e))
    try:
        v.ours = cli.encode(v.json)
        if not skipped and v.ours != v.hex:
            fails.append("%s: %s" % (v.id, show_diff("encoded hex", v.hex, v.ours)))
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        fails.append("%s: %s" % (v.id, e))
    return fails


def compile_java(src, work, jar):
    """Compile the Java peer into work/classes unless it is up to date."""
    classes = os.path.join(work, "classes")
    stamp = os.path.join(work, "classes.stamp")
    sources = sorted(os.path.join(d, f) for d, _, fs in os.walk(src) for f in fs if f.endswith(".java"))
    newest = max(os.path.getmtime(s) for s in sources)
    if os.path.exists(stamp) and os.path.getmtime(stamp) >= newest:
        return classes
    shutil.rmtree(classes, ignore_errors=True)
    os.makedirs(classes)
    p = subprocess.run(["javac", "-nowarn", "-encoding", "UTF-8", "-cp", jar, "-d", classes] + sources,
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("javac failed:\n" + p.stderr)
    open(stamp, "w").close()
    return classes


def run_verifier(name, cmd, vectors, notes, cwd=None):
    """Feed "file name n refhex ourhex" lines to a peer verifier; returns the
    failures, appends to notes the vectors the peer cannot read at all."""
    lines = "".join("%s\t%s\t%d\t%s\t%s\n" % (v.file, v.name, len(v.json), v.hex, v.ours)
                    for v in vectors)
    p = subprocess.run(cmd, input=lines.encode(), capture_output=True, timeout=300, cwd=cwd)
    out = p.stdout.decode("utf-8", "replace").splitlines()
    if p.returncode != 0:
        return ["%s verifier exited %d: %s" % (name, p.returncode,
                                                clip(p.stderr.decode("utf-8", "replace")))]
    oks = sum(1 for l in out if l.startswith("OK "))
    fails = ["%s: %s" % (name, l[5:]) for l in out if l.startswith("FAIL ")]
    new_notes = ["%s: %s" % (name, l[5:]) for l in out if l.startswith("NOTE ")]
    notes.extend(new_notes)
    answered = oks + len(fails) + len(new_notes)
    if answered != len(vectors):
        fails.append("%s verifier answered %d of %d vectors" % (name, answered, len(vectors)))
    return fails


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cli", required=True, help="the dubbo CLI binary")
    ap.add_argument("--source", required=True, help="the dubbo-c source tree")
    ap.add_argument("--work", required=True, help="a scratch directory (Java classes)")
    ap.add_argument("--jar", default=os.environ.get("HESSIAN_JAR", "/usr/share/java/hessian.jar"))
    ap.add_argument("--only", help="check only cases whose name contains this")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()

    t0 = time.time()
    vec_dir = os.path.join(args.source, "tests", "vectors", "hessian2")
    interop = os.path.join(args.source, "tests", "interop")
    peers = os.path.join(interop, "peers")
    for tool in ("java", "javac", "node"):
        if not shutil.which(tool):
            sys.exit("hessian2 interop: %s not found (scripts/setup.sh installs the peers)" % tool)
    if not os.path.exists(args.jar):
        sys.exit("hessian2 interop: %s not found (apt-get install libhessian-java)" % args.jar)
    if not os.path.isdir(os.path.join(peers, "node_modules", "hessian.js")):
        sys.exit("hessian2 interop: hessian.js not installed (cd tests/interop/peers && npm ci)")
    os.makedirs(args.work, exist_ok=True)

    vectors = load_vectors(os.path.join(vec_dir, "java.tsv"), "java") + \
        load_vectors(os.path.join(vec_dir, "js.tsv"), "js")
    if args.only:
        vectors = [v for v in vectors if args.only in v.name]
    skips = load_skips(os.path.join(vec_dir, "encode-skip.txt"))
    encode_only = load_encode_only(os.path.join(interop, "hessian2-cases.txt"))
    java_hex = {v.name: v.hex for v in vectors if v.file == "java"}
    failures = []

    # The skip list must name real vectors where hessian.js and Java differ.
    by_id = {(v.file, v.name): v for v in vectors}
    for (file, name), reason in sorted(skips.items()):
        v = by_id.get((file, name))
        if args.only and args.only not in name:
            continue
        if v is None:
            failures.append("encode-skip.txt: %s %s names no vector" % (file, name))
        elif java_hex.get(name) == v.hex:
            failures.append("encode-skip.txt: %s %s has the same bytes as Java: drop it" % (file, name))
    differing = [v.name for v in vectors if v.file == "js" and v.name in java_hex and v.hex != java_hex[v.name]]

    # (a) decode and encode every vector with our CLI.
    cli = Cli(args.cli)
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        futs = [pool.submit(check_vector, cli, v, (v.file, v.name) in skips) for v in vectors]
        for f in futs:
            failures.extend(f.result())
    for name, json in encode_only:
        if args.only and args.only not in name:
            continue
        try:
            got = cli.encode([json])
            if name not in java_hex:
                failures.append("encode:%s names no java vector" % name)
            elif got != java_hex[name]:
                failures.append("encode:%s %s: %s" % (name, json, show_diff("encoded hex", java_hex[name], got)))
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            failures.append("encode:%s: %s" % (name, e))
    n_a = len(failures)
    t_a = time.time() - t0

    # (b) the peers read our encodings (of vectors we could encode at all).
    ours = [v for v in vectors if v.ours]
    classes = compile_java(os.path.join(peers, "java"), args.work, args.jar)
    notes = []
    failures += run_verifier("java", ["java"] + JAVA_OPENS + ["-cp", args.jar + os.pathsep + classes,
                                                               "Hessian2Peer", "verify"], ours, notes)
    failures += run_verifier("hessian.js", ["node", os.path.join(peers, "js", "hessian2-peer.js"),
                                            "verify"], ours, notes)

    for n in notes:
        print("NOTE " + n)
    for f in failures:
        print("FAIL " + f)
    print("hessian2 interop: %d vectors (%d java, %d js), %d encode-only inputs; "
          "%d encode checks skipped (encode-skip.txt); js bytes differ from Java in %d cases: %s"
          % (len(vectors), sum(v.file == "java" for v in vectors), sum(v.file == "js" for v in vectors),
             len(encode_only), sum((v.file, v.name) in skips for v in vectors), len(differing),
             " ".join(differing) or "-"))
    print("hessian2 interop: (a) our CLI vs peer vectors: %d failures in %.1fs; "
          "(b) peers reading our bytes (%d vectors, Java and hessian.js): %d failures, "
          "%d not checked (NOTE); total %.1fs"
          % (n_a, t_a, len(ours), len(failures) - n_a, len(notes), time.time() - t0))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
