#!/bin/sh
# lua-cos benchmark entry point (`make bench` runs it after building). See bench/README.md.
#
#   sh bench/run.sh                                                   # full: 1 GiB, 3 runs, 1000 files
#   BENCH_SIZE_MB=64 BENCH_RUNS=1 BENCH_FILES=100 sh bench/run.sh     # quick check, well under a minute
#
# This script prepares the surroundings (work dir on tmpfs, the Node SDK, clean-up on exit) and hands
# over to bench/bench.lua, which starts cosd, runs every client, and writes bench/results.md.
# A missed target never makes it fail; a broken set-up (no build, no tmp space) does.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1

for f in build/bin/cosd build/bin/cos-sign build/lua/cos/core.so; do
  if [ ! -e "$f" ]; then
    echo "bench: $f is missing: run 'make' first (or 'make bench')" >&2
    exit 1
  fi
done
for t in lua5.4 curl /usr/bin/time split date; do
  command -v "$t" >/dev/null 2>&1 || { echo "bench: '$t' is required" >&2; exit 1; }
done

SIZE_MB=${BENCH_SIZE_MB:-1024}
case "$SIZE_MB" in ''|*[!0-9]*) echo "bench: BENCH_SIZE_MB must be a whole number of MiB" >&2; exit 1;; esac

# --- work dir: tmpfs, so that neither cosd's data nor the source files touch a disk -----------------
# Room: the source file, the smaller RSS-check file, the pre-split parts of the curl ceiling, and one
# cosd data dir holding a completed object plus its parts: about 4.5x the size, plus a margin.
# The 4 GiB stream of zeros (full runs, BENCH_PIPE_HUGE_MB) needs room for one stored copy.
HUGE_MB=${BENCH_PIPE_HUGE_MB:-}
[ -n "$HUGE_MB" ] || { [ "$SIZE_MB" -ge 1024 ] && HUGE_MB=4096 || HUGE_MB=0; }
case "$HUGE_MB" in ''|*[!0-9]*) echo "bench: BENCH_PIPE_HUGE_MB must be a whole number of MiB" >&2; exit 1;; esac
NEED_KB=$(( (SIZE_MB * 9 / 2 + HUGE_MB + 256) * 1024 ))
free_kb() { df -Pk "$1" 2>/dev/null | awk 'NR==2 {print $4}'; }
WORK_NOTE=""
WORK=""
for cand in "${BENCH_TMPDIR:-}" /dev/shm; do
  [ -n "$cand" ] && [ -d "$cand" ] && [ -w "$cand" ] || continue
  fs=$(df -P "$cand" 2>/dev/null | awk 'NR==2 {print $1}')
  avail=$(free_kb "$cand")
  if [ -n "$avail" ] && [ "$avail" -ge "$NEED_KB" ]; then
    WORK=$(mktemp -d "$cand/lua-cos-bench.XXXXXX") || WORK=""
    if [ -n "$WORK" ]; then
      if [ "$fs" = tmpfs ] || [ "$cand" = /dev/shm ]; then
        WORK_NOTE="tmpfs ($cand)"
      else
        WORK_NOTE="$cand ($fs, not verified to be tmpfs)"
      fi
      break
    fi
  fi
done
if [ -z "$WORK" ]; then
  mkdir -p bench/work
  WORK=$(mktemp -d "$ROOT/bench/work/run.XXXXXX") || exit 1
  WORK_NOTE="NOT tmpfs: /dev/shm missing, not writable or too small (need $((NEED_KB / 1024)) MiB); used $WORK on disk, so cosd's writes hit the page cache/disk"
  echo "bench: note: $WORK_NOTE" >&2
fi

cleanup() {
  # stop the cosd we may have left running (only pids recorded by this run), then drop the big files
  for p in "$WORK"/cosd-*/pid; do
    [ -f "$p" ] || continue
    pid=$(cat "$p" 2>/dev/null)
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null
  done
  rm -rf "$WORK"
  rmdir "$ROOT/bench/work" 2>/dev/null
  return 0
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- the official Node SDK, installed once into bench/node/node_modules (git-ignored) --------------
NODE_STATUS=ok
SDK_PKG=bench/node/node_modules/cos-nodejs-sdk-v5/package.json
if [ "${BENCH_NODE:-1}" = 0 ]; then
  NODE_STATUS="skipped (BENCH_NODE=0)"
elif ! command -v node >/dev/null 2>&1; then
  NODE_STATUS="node is not installed"
elif [ ! -f "$SDK_PKG" ]; then
  if ! command -v npm >/dev/null 2>&1; then
    NODE_STATUS="npm is not installed, so cos-nodejs-sdk-v5 could not be installed"
  else
    echo "bench: installing cos-nodejs-sdk-v5@3 into bench/node (once)"
    mkdir -p bench/node
    if ! npm install --no-save --no-package-lock --prefix bench/node cos-nodejs-sdk-v5@3 >"$WORK/npm.log" 2>&1 \
       || [ ! -f "$SDK_PKG" ]; then
      tail -n 20 "$WORK/npm.log" >&2
      NODE_STATUS="npm install cos-nodejs-sdk-v5@3 FAILED (npm's last lines are printed on the console)"
    fi
  fi
fi
if [ "$NODE_STATUS" != ok ]; then
  echo "bench: Node SDK unavailable: $NODE_STATUS -- reporting lua-cos and curl only" >&2
fi

export BENCH_ROOT="$ROOT" BENCH_WORK="$WORK" BENCH_WORK_NOTE="$WORK_NOTE" BENCH_NODE_STATUS="$NODE_STATUS"
export LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;;"
export LUA_CPATH="$ROOT/build/lua/?.so;;"
if [ "${BENCH_ONLY:-}" != nginx ]; then
  lua5.4 bench/bench.lua || exit $?
fi
# OpenResty: pings during an upload inside nginx (needs build-luajit/, which `make bench` builds).
if [ -e build-luajit/lua/cos/core.so ]; then
  lua5.4 bench/nginx_bench.lua
else
  echo "bench: build-luajit/ is missing: run 'make LUA=luajit' for the nginx bench" >&2
fi
