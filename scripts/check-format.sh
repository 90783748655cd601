#!/usr/bin/env bash
# Fail if any tracked C file differs from .clang-format's layout.
# Fix with: git ls-files '*.c' '*.h' | xargs clang-format -i
set -euo pipefail
cd "$(dirname "$0")/.."
command -v clang-format >/dev/null || { echo "clang-format not installed"; exit 77; }
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find src include tools tests bench fuzz examples -name '*.[ch]')
bad=$(echo "$files" | xargs clang-format --dry-run 2>&1 | grep -o '^[^:]*\.[ch]' | sort -u || true)
if [ -n "$bad" ]; then
    echo "not formatted (run clang-format -i on them):"
    echo "$bad"
    exit 1
fi
echo "format: $(echo "$files" | wc -l) files ok"
