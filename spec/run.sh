#!/bin/sh
# Runs every spec once per pass given as <build tree>:<interpreter> (build:lua5.4,
# build-luajit:luajit, build-asan:lua5.4; the interpreter defaults to lua5.4) against real cosd
# processes, prints one summary line per pass naming the interpreter the specs really ran under
# (as reported from inside busted), and ends with the total "N passed, N failed".
# A pass built with sanitizers also fails on any sanitizer report.
cd "$(dirname "$0")/.." || exit 2
root=$(pwd)
total_pass=0
total_fail=0
# One pass of every spec over build tree $1; sets pass, fail and retry (1 when the only failures were
# LeakSanitizer's own tracer crashing at exit, a known intermittent fault of the tool:
# google/sanitizers#1353).
run_pass() {
  b=$1 interp=$2
  results="$root/$b/test-results.json"
  sandir="$root/$b/san"
  rm -rf "$sandir" && mkdir -p "$sandir"
  # Checkpoints of interrupted uploads go to a throw-away cache, never the user's home.
  cache="$root/$b/spec-cache"
  rm -rf "$cache" && mkdir -p "$cache"
  preload=""
  if [ "$b" != "${b%asan}" ]; then
    # lua5.4 is not instrumented: the sanitizer runtimes must be loaded first.
    preload="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
  fi
  echo "== specs ($b, $interp)" >&2
  rm -f "$root/$b/interpreter.txt"
  env LUA_PATH="$root/lua/?.lua;$root/lua/?/init.lua;$root/spec/?.lua;;" \
      LUA_CPATH="$root/$b/lua/?.so;;" \
      COSD_BIN="$root/$b/bin/cosd" COS_BUILD="$root/$b" COS_TOOLS="$root/$b/bin" \
      COS_SAN_PRELOAD="$preload" XDG_CACHE_HOME="$cache" COS_LUA="$interp" \
      ASAN_OPTIONS="log_path=$sandir/asan:log_exe_name=1:detect_leaks=1:abort_on_error=0:allocator_may_return_null=1" \
      UBSAN_OPTIONS="log_path=$sandir/ubsan:print_stacktrace=1:halt_on_error=1" \
      LSAN_OPTIONS="suppressions=$root/spec/support/lsan.supp:print_suppressions=0" \
      LD_PRELOAD="$preload" \
      "$interp" /usr/bin/busted --helper=spec/support/pass_helper.lua -o spec/support/json_output.lua spec \
      >"$results" 2>"$root/$b/test-stderr.log"
  counts=$(env -u LD_PRELOAD lua5.4 spec/support/count.lua "$results" "$sandir")
  set -- $counts
  pass=$1 fail=$2 retry=$3 skipped=$4
  replay_fuzz "$b"
}

# One test per fuzz harness: every committed corpus file and past crash input of fuzz/<target>/
# runs once through $1/fuzz/<target> (built by `make fuzz-replay`); a crash or sanitizer report fails it.
replay_fuzz() {
  for bin in "$root/$1"/fuzz/*; do
    [ -x "$bin" ] || continue
    t=$(basename "$bin")
    log="$root/$1/fuzz-replay-$t.log"
    inputs="$root/fuzz/$t/corpus"
    [ -d "$root/fuzz/$t/crashes" ] && inputs="$inputs $root/fuzz/$t/crashes"
    if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 "$bin" $inputs >"$log" 2>&1; then
      pass=$((pass + 1))
    else
      echo "$1: fuzz replay $t FAILED (see $log)" >&2
      fail=$((fail + 1))
    fi
  done
}

# One pass with its LeakSanitizer retry; its counts and summary line go to files of its build tree,
# so that passes can run side by side.
run_one() {
  b=$1 interp=$2
  run_pass "$b" "$interp"
  if [ "$retry" -eq 1 ]; then
    # The leak check of some process never ran: run the whole pass again, which must be clean.
    echo "$b: LeakSanitizer's tracer crashed at exit (no leak report); running the pass again" >&2
    run_pass "$b" "$interp"
  fi
  ran=$(cat "$root/$b/interpreter.txt" 2>/dev/null || echo "interpreter unknown: busted did not start")
  echo "$pass $fail" >"$root/$b/pass-counts"
  echo "$b ($ran): $pass passed, $fail failed, $skipped skipped" >"$root/$b/pass-line"
}

# COS_TEST_JOBS passes at a time (default 2: the specs spend much of their time waiting on cosd and
# on timers, so two passes share two cores well); each pass's trees, caches and cosd ports are its own.
jobs=${COS_TEST_JOBS:-2}
running=0
for arg in "$@"; do
  b=${arg%%:*}
  interp=lua5.4
  [ "$arg" = "$b" ] || interp=${arg#*:}
  rm -f "$root/$b/pass-counts" "$root/$b/pass-line"
  run_one "$b" "$interp" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait
    running=0
  fi
done
wait
for arg in "$@"; do
  b=${arg%%:*}
  if [ -f "$root/$b/pass-counts" ]; then
    set -- $(cat "$root/$b/pass-counts")
    cat "$root/$b/pass-line" >&2
  else
    set -- 0 1
    echo "$b: the pass did not report (see $root/$b/test-stderr.log)" >&2
  fi
  total_pass=$((total_pass + $1))
  total_fail=$((total_fail + $2))
done
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
