#!/bin/sh
# `make bench-poll`: the cost of one cos_poll(c, 0) step during a big sliceUploadFile, measured by
# bench/poll_step.c against a fresh cosd on tmpfs. Prints the step distribution per setting.
#   POLL_SIZE_MB=256 (file size)  POLL_CHUNK_MB=8  POLL_PARALLEL=4  POLL_SLEEPS="run 1000 0 16667" (us; run: cos_run())
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
BIN="$ROOT/$BUILD/bin"
SIZE=${POLL_SIZE_MB:-256}
WORK=$(mktemp -d "${BENCH_TMPDIR:-/dev/shm}/lua-cos-poll.XXXXXX") || exit 1
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT INT TERM
ID=AKIDcosdBENCHsecretid00000000000000
KEY=cosdBENCHsecretkey0000000000000000
head -c $((SIZE * 1048576)) /dev/urandom >"$WORK/big.bin" || exit 1
# With two cores or more, cosd and the measured client each get a core of their own (taskset): a
# real COS server does not share the client's CPU, and on a 2-core box the scheduler would
# otherwise hand the client's core to cosd in the middle of a step. POLL_PIN=0 turns it off.
SERVER_CPU="" CLIENT_CPU=""
if [ "${POLL_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
  SERVER_CPU="taskset -c 1" CLIENT_CPU="taskset -c 0"
fi
for sleep_us in ${POLL_SLEEPS:-run 1000 0 16667}; do
  rm -rf "$WORK/data" "$WORK/port"
  $SERVER_CPU "$BIN/cosd" --listen 127.0.0.1:0 --data "$WORK/data" --port-file "$WORK/port" --region ap-guangzhou \
    --credentials "$ID:$KEY" --bucket examplebucket-1250000000 >/dev/null 2>&1 &
  PID=$!
  i=0; while [ ! -s "$WORK/port" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
  COS_IP="127.0.0.1:$(cat "$WORK/port")" COS_SECRETID=$ID COS_SECRETKEY=$KEY \
    COS_BUCKET=examplebucket-1250000000 COS_REGION=ap-guangzhou \
    $CLIENT_CPU "$BIN/poll_step" "$WORK/big.bin" "${POLL_CHUNK_MB:-8}" "${POLL_PARALLEL:-4}" "$sleep_us"
  kill "$PID"; wait "$PID" 2>/dev/null; PID=""
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores${SERVER_CPU:+, cosd on CPU 1 and the client on CPU 0}"
