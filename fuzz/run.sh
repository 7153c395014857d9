#!/bin/sh
# fuzz/run.sh BUILD SECONDS TARGET...: runs each libFuzzer binary BUILD/fuzz/TARGET for SECONDS,
# one after the other, starting from its committed corpus (fuzz/TARGET/corpus, read only: new
# inputs go to BUILD/fuzz-corpus/TARGET) with fuzz/TARGET.dict when there is one. Prints one line
# per target (executions, corpus size, crashes) and exits 1 when any target crashed; crash inputs
# are left in BUILD/fuzz-crashes/TARGET/ to be fixed and then kept in fuzz/TARGET/crashes/.
cd "$(dirname "$0")/.." || exit 2
build=$1 seconds=$2
shift 2
failed=0
summary=""
for t in "$@"; do
  work="$build/fuzz-corpus/$t" crashes="$build/fuzz-crashes/$t" log="$build/fuzz-$t.log"
  mkdir -p "$work" "$crashes"
  dict=""
  [ -f "fuzz/$t.dict" ] && dict="-dict=fuzz/$t.dict"
  echo "== fuzzing $t for ${seconds}s (log: $log)" >&2
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: memory growth is a bug too
  "$build/fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$crashes/" $dict "$work" "fuzz/$t/corpus" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -n 1)
  ncrash=$(find "$crashes" -type f | wc -l)
  ncorpus=$(find "$work" -type f | wc -l)
  line=$(printf '%-14s %12s execs  %6s corpus files  %s crash inputs' "$t" "${execs:-0}" "$ncorpus" "$ncrash")
  [ "$rc" -ne 0 ] && line="$line  (libFuzzer exit $rc: see $log)"
  summary="$summary$line
"
  if [ "$rc" -ne 0 ] || [ "$ncrash" -gt 0 ]; then failed=1; fi
done
printf '%s' "$summary"
exit $failed
