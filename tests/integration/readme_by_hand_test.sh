#!/usr/bin/env bash
# The README's "Building by hand" commands, run as written, so they cannot
# rot (issue 18: the documented -O3 build once failed under -Werror while CI
# never built it that way). The commands are read from README.md between
# <!-- by-hand:begin --> and <!-- by-hand:end -->, one per line, steps
# joined by &&; every step must be one this script knows, so a new command
# in the README fails here until the test learns it.
#
# What runs, from the source directory, with build/ trees moved to WORK_DIR
# (kept between runs, so later runs rebuild only what changed) and a bare
# -j given the job count:
#   scripts/setup.sh       checked (present, executable, valid bash), not
#                          run: it installs packages, and scripts/test.sh
#                          has run it before the suite (DUBBO_BYHAND_SETUP=1
#                          runs it)
#   cmake -S . -B DIR ...  run as written
#   cmake --build DIR -j   run, building everything the README builds
#                          (library, tool, tests, examples at -O3), except
#                          in a tree configured with DUBBO_SANITIZE=ON: that
#                          is the build the suite running this test already
#                          made (scripts/test.sh's build/test), so the
#                          step is not repeated
#   (cd DIR && ctest)      in that sanitizer tree: `ctest -N` (the tests
#                          are generated and listed; running the suite from
#                          inside the suite would recurse)
# Each step's output is kept in WORK_DIR/<n>.log and shown on failure.
#
# Usage: readme_by_hand_test.sh SOURCE_DIR WORK_DIR [JOBS]
set -u
SRC=${1:?usage: readme_by_hand_test.sh SOURCE_DIR WORK_DIR [JOBS]}
WORK=${2:?}
JOBS=${3:-2}
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
cd "$SRC" || exit 1
# Sanitizer settings of the calling test run do not concern these builds.
unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS TSAN_OPTIONS CFLAGS CXXFLAGS CC

pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
finish() { echo "$pass passed, $fail failed"; [ "$fail" = 0 ]; exit $?; }

# The block: the lines of the sh fence between the markers.
block=$(awk '/<!-- by-hand:begin/ {on = 1; next} /<!-- by-hand:end/ {on = 0} on' README.md |
        grep -v '^```' | sed 's/[[:space:]]*$//' | grep -v '^$' | grep -v '^#')
if [ -z "$block" ]; then
  bad "README.md has no <!-- by-hand:begin --> ... <!-- by-hand:end --> block"
  finish
fi

declare -A sanitized # build dirs configured with DUBBO_SANITIZE=ON
n=0
run() { # run LABEL CMD...: one step, its output in WORK/<n>.log
  n=$((n + 1))
  local log=$WORK/$n.log t0=$SECONDS
  if "${@:2}" >"$log" 2>&1; then
    ok "$1 ($((SECONDS - t0)) s)"
  else
    bad "$1 (exit $?; the last lines of $log:)"
    tail -30 "$log" | sed 's/^/     /'
    finish
  fi
}
dir_of() { # build/x -> WORK/x; anything else is refused
  case $1 in
  build/*) echo "$WORK/${1#build/}" ;;
  *) echo "" ;;
  esac
}

while IFS= read -r line; do
  echo "README: $line"
  # split on " && " at the top level (the ctest step's parentheses hold one)
  rest=$line
  while [ -n "$rest" ]; do
    if [[ $rest == "("* ]]; then
      step="${rest%%\)*})"
      rest=${rest#"$step"}
    else
      step=${rest%% && *}
      rest=${rest#"$step"}
    fi
    rest=${rest# && }
    rest=${rest#&& }
    read -ra w <<<"$step"
    case "$step" in
    "scripts/setup.sh")
      if [ "${DUBBO_BYHAND_SETUP:-0}" = 1 ]; then
        run "scripts/setup.sh" scripts/setup.sh
      elif [ -x scripts/setup.sh ] && bash -n scripts/setup.sh; then
        ok "scripts/setup.sh: present and valid (not run: scripts/test.sh ran it; DUBBO_BYHAND_SETUP=1 runs it)"
      else
        bad "scripts/setup.sh is missing, not executable or not valid bash"
      fi
      ;;
    "cmake -S . -B "*)
      d=$(dir_of "${w[4]}")
      [ -n "$d" ] || { bad "unknown build directory in: $step"; finish; }
      args=("${w[@]:5}")
      [[ " ${args[*]} " == *" -DDUBBO_SANITIZE=ON "* ]] && sanitized[$d]=1
      run "$step" cmake -S . -B "$d" "${args[@]}"
      ;;
    "cmake --build "*)
      d=$(dir_of "${w[2]}")
      [ -n "$d" ] || { bad "unknown build directory in: $step"; finish; }
      args=()
      for a in "${w[@]:3}"; do [ "$a" = -j ] && a=-j$JOBS; args+=("$a"); done
      if [ -n "${sanitized[$d]:-}" ]; then
        ok "$step: not repeated (the sanitizer build of scripts/test.sh, which runs this suite)"
      else
        run "$step" cmake --build "$d" "${args[@]}"
      fi
      ;;
    "(cd build/"*" && ctest)")
      t=${step#(cd }
      t=${t%% *}
      d=$(dir_of "$t")
      if [ -n "${sanitized[$d]:-}" ]; then
        run "$step: ctest -N (the test list; the suite itself is what runs this)" \
          sh -c "cd '$d' && ctest -N | tail -1 | grep -q 'Total Tests: [1-9]'"
      else
        run "$step" sh -c "cd '$d' && ctest --output-on-failure -j$JOBS"
      fi
      ;;
    *)
      bad "a README step this test does not know (teach tests/integration/readme_by_hand_test.sh): $step"
      ;;
    esac
  done
done <<<"$block"
finish
