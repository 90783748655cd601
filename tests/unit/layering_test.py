#!/usr/bin/env python3
"""Includes go one way: a file may include headers of its own layer or a
lower one, never a higher one (docs/architecture.md has the table).

Every #include "..." of src/ and include/dubbo/ is checked. The violations
that exist today are listed in KNOWN, each with the reason and the work that
removes it (issue "One spine for every protocol"); the test fails on any
other violation, and on a KNOWN entry that no longer occurs (so the list only
shrinks). Prints "N passed, N failed" like the C tests."""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                       os.path.join(os.path.dirname(__file__), "..", ".."))

# (layer, name): the lowest layer is 0. A path matches the longest prefix.
LAYERS = [
    (0, "core", ["src/core/", "include/dubbo/error.h", "include/dubbo/buf.h",
                 "include/dubbo/value.h", "include/dubbo/url.h",
                 "include/dubbo/extension.h", "include/dubbo/export.h",
                 "include/dubbo/version.h"]),
    (1, "serialize + codecs", ["src/serialize/", "src/protocol/dubbo/codec.",
                               "include/dubbo/hessian2.h", "include/dubbo/serialization.h"]),
    (2, "transport", ["src/transport/"]),
    (3, "rpc", ["src/runtime/", "include/dubbo/rpc.h", "include/dubbo/protocol.h"]),
    (4, "cluster + filters + protocols", ["src/cluster/", "src/filter/", "src/protocol/",
                                          "include/dubbo/cluster.h", "include/dubbo/triple.h",
                                          "include/dubbo/rest.h"]),
    (5, "registries", ["src/registry/", "include/dubbo/registry.h"]),
    (6, "config + qos", ["src/config/", "include/dubbo/config.h", "src/qos/",
                         "include/dubbo/qos.h"]),
    (7, "builtins", ["src/builtins.c"]),
]

# file -> included header: today's violations, each with why it is there and
# what removes it.
KNOWN = {
    ("src/runtime/call.h", "include/dubbo/cluster.h"):
        "the provider filter chain (dubbo_filter_t, dubbo__filter_chain_build) is "
        "declared in the cluster header; the spine's exporter (rpc layer) takes it",
    ("src/runtime/server.c", "include/dubbo/registry.h"):
        "the server announces its services; the spine moves announcing above "
        "the rpc layer (the exporter's registry step)",
    ("src/cluster/cluster.c", "include/dubbo/registry.h"):
        "registry-backed references subscribe from the directory; the spine "
        "moves the registry directory into src/registry/ as a directory plugin",
}


def layer_of(path):
    best = None
    for level, _, prefixes in LAYERS:
        for p in prefixes:
            if path.startswith(p) and (best is None or len(p) > best[1]):
                best = (level, len(p))
    return best[0] if best else None


def resolve(inc):
    """The repository path of an #include "..." target."""
    if inc.startswith("dubbo/"):
        return "include/" + inc
    return "src/" + inc


def main():
    files = []
    for top in ("src", "include/dubbo"):
        for d, _, names in os.walk(os.path.join(ROOT, top)):
            for n in names:
                if n.endswith((".c", ".h")):
                    files.append(os.path.relpath(os.path.join(d, n), ROOT))
    seen_known = set()
    passed = failed = 0
    rx = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
    for f in sorted(files):
        mine = layer_of(f)
        if mine is None:
            print("FAIL %s: not in any layer of the table (add its folder)" % f)
            failed += 1
            continue
        with open(os.path.join(ROOT, f), encoding="utf-8") as fh:
            text = fh.read()
        for inc in rx.findall(text):
            target = resolve(inc)
            theirs = layer_of(target)
            if theirs is None:
                print("FAIL %s includes %s, which is in no layer" % (f, inc))
                failed += 1
                continue
            if theirs <= mine:
                passed += 1
                continue
            if (f, target) in KNOWN:
                seen_known.add((f, target))
                passed += 1
                continue
            print("FAIL %s (layer %d, %s) includes %s (layer %d, %s): includes go downward only"
                  % (f, mine, LAYERS[mine][1], inc, theirs, LAYERS[theirs][1]))
            failed += 1
    for k in sorted(set(KNOWN) - seen_known):
        print("FAIL the known violation %s -> %s is gone: remove it from KNOWN" % k)
        failed += 1
    print("%d known violations left (the spine removes them):" % len(seen_known))
    for k in sorted(seen_known):
        print("  %s -> %s: %s" % (k[0], k[1], KNOWN[k]))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
