#!/usr/bin/env bash
# run.sh FUZZ_BUILD SECONDS TARGET...: the `make fuzz` driver. For each target, in turn (the
# machine's cores are shared: one libFuzzer process at a time):
#  1. replays tests/fuzz/regressions/<target>/* (every crash ever found must stay fixed);
#  2. fuzzes for SECONDS (-max_total_time) from tests/fuzz/corpus/<target> (the seeds, read
#     only) plus FUZZ_BUILD/corpus/<target> (what earlier runs found; new inputs go there), with
#     tests/fuzz/<target>.dict or tests/fuzz/json.dict.
# A crash, leak, timeout (-timeout, 10 s per input) or out-of-memory (2 GiB) stops that target;
# its input is saved as FUZZ_BUILD/crashes/<target>/crash-<sha1> (or leak-, timeout-, oom-).
# Fix the bug, then copy that file to tests/fuzz/regressions/<target>/<short-name> so that
# both this script and the unit binary $(BUILD)/tests/fuzz_<target> replay it from then on.
# Prints one line per target (executions, executions/s, coverage) and exits 1 on any failure.
# Logs: FUZZ_BUILD/logs/<target>.log.
set -uo pipefail

FUZZ_BUILD="${1:?usage: run.sh FUZZ_BUILD SECONDS TARGET...}"
SECONDS_EACH="${2:?usage: run.sh FUZZ_BUILD SECONDS TARGET...}"
shift 2
cd "$(dirname "${BASH_SOURCE[0]}")/../.." || exit 1

[[ "$SECONDS_EACH" =~ ^[0-9]+$ ]] || {
    echo "run.sh: SECONDS must be a whole number, not '$SECONDS_EACH'" >&2
    exit 2
}
failed=()
printf '%-18s %-7s %10s %9s %6s %6s %7s\n' target result execs "exec/s" cov ft corpus
for t in "$@"; do
    bin="$FUZZ_BUILD/fuzz/fuzz_$t"
    log="$FUZZ_BUILD/logs/$t.log"
    mkdir -p "$FUZZ_BUILD/logs" "$FUZZ_BUILD/corpus/$t" "$FUZZ_BUILD/crashes/$t"
    if [[ ! -x "$bin" ]]; then
        echo "run.sh: $bin not built" >&2
        failed+=("$t")
        continue
    fi
    : >"$log"
    result=ok
    shopt -s nullglob
    regressions=(tests/fuzz/regressions/"$t"/*)
    shopt -u nullglob
    if ((${#regressions[@]} > 0)); then
        echo "--- replaying ${#regressions[@]} regression(s)" >>"$log"
        "$bin" -timeout=10 -rss_limit_mb=2048 "${regressions[@]}" >>"$log" 2>&1 || result=regression
    fi
    if [[ "$result" == ok ]]; then
        dict="tests/fuzz/$t.dict"
        [[ -f "$dict" ]] || dict=tests/fuzz/json.dict
        seeds=()
        [[ -d "tests/fuzz/corpus/$t" ]] && seeds=("tests/fuzz/corpus/$t")
        echo "--- fuzzing for ${SECONDS_EACH}s" >>"$log"
        "$bin" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
            -dict="$dict" -print_final_stats=1 -artifact_prefix="$FUZZ_BUILD/crashes/$t/" \
            "$FUZZ_BUILD/corpus/$t" "${seeds[@]}" >>"$log" 2>&1 || result=crash
    fi
    # figures from libFuzzer's last status line and its final stats
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)"
    last="$(grep -E '^#[0-9]+' "$log" | tail -n 1)"
    cov="$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")"
    ft="$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")"
    corp="$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")"
    printf '%-18s %-7s %10s %9s %6s %6s %7s\n' "$t" "$result" "${execs:--}" "${rate:--}" \
        "${cov:--}" "${ft:--}" "${corp:--}"
    if [[ "$result" != ok ]]; then
        failed+=("$t")
        grep -m 3 -E 'ERROR: |fuzz property broken|runtime error|Test unit written to' "$log" | sed 's/^/    /'
    fi
done
if ((${#failed[@]} > 0)); then
    echo "run.sh: failed: ${failed[*]} (logs in $FUZZ_BUILD/logs; inputs in $FUZZ_BUILD/crashes)"
    exit 1
fi
echo "run.sh: all ${#} targets ok"
