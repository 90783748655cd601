#!/usr/bin/env bash
# The main job: install what is missing, build dubbo-c (release), and run a
# short demo of what it does today.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release -DDUBBO_BUILD_TESTS=OFF >/dev/null
cmake --build build/release -j"$(nproc)" >/dev/null
DUBBO=build/release/tools/dubbo
set -x
# A Java value as typed JSON -> Hessian 2 bytes (what Java's Hessian2Output writes):
$DUBBO hessian2 encode --hex '{"$class":"com.example.User","$":{"name":"Ann","age":42,"tags":["a","b"]}}'
# ... and Hessian 2 bytes -> typed JSON (a long, a double, a Date, an int[]):
$DUBBO hessian2 decode --hex 'e5'
$DUBBO hessian2 decode --hex '5f000004d2'
$DUBBO hessian2 decode --hex '4b00c3f0a0'
$DUBBO hessian2 decode --hex '7304 5b696e74 91 92 93'
