# shellcheck shell=bash disable=SC2034 # tap_*, sum_*, sanitizer_logs and ARTIFACTS are the caller's
# tests/lib.sh: sourced by the test drivers (tests/run.sh, tests/faults/run.sh, tests/cluster/run.sh):
# how they read a verdict, and the common steps of the drivers that run on a stack of their own.
# Defines functions only.

# tap_counts WHO STATUS OUTPUT: sets tap_pass and tap_fail from the "# pass N", "# fail N" and
# "# cancelled N" lines of node --test's TAP OUTPUT (cancelled tests count as failed). A non-zero
# STATUS with no failure counted is one failure, said as "WHO: node --test exited with status N".
tap_counts() {
    local who="$1" st="$2" line cancelled=0
    tap_pass=0 tap_fail=0
    while IFS= read -r line; do
        if [[ "$line" =~ ^#\ pass\ ([0-9]+) ]]; then
            tap_pass="${BASH_REMATCH[1]}"
        elif [[ "$line" =~ ^#\ fail\ ([0-9]+) ]]; then
            tap_fail="${BASH_REMATCH[1]}"
        elif [[ "$line" =~ ^#\ cancelled\ ([0-9]+) ]]; then
            cancelled="${BASH_REMATCH[1]}"
        fi
    done <<<"$3"
    tap_fail=$((tap_fail + cancelled))
    if ((st != 0 && tap_fail == 0)); then
        echo "$who: node --test exited with status $st"
        tap_fail=1
    fi
}

# summary_run TAIL LOG CMD...: runs CMD, keeps its output in LOG and prints its last TAIL lines;
# sets sum_pass and sum_fail from its last line "[word:] N passed, M failed" (the drivers' and
# postman/run.sh's verdict). A non-zero exit with no failure counted is one failure.
summary_run() {
    local tail_n="$1" log="$2" out st=0
    shift 2
    out="$("$@" 2>&1)" || st=$?
    printf '%s\n' "$out" >"$log"
    tail -n "$tail_n" <<<"$out"
    sum_pass=0 sum_fail=0
    if [[ "$(tail -n 1 <<<"$out")" =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
        sum_pass="${BASH_REMATCH[1]}" sum_fail="${BASH_REMATCH[2]}"
    fi
    ((st == 0 || sum_fail > 0)) || sum_fail=1
}

# sanitizer_reports WHO DIR: prints the first lines of each ASan/LSan/UBSan report in DIR/*.log
# (the services' logs) and sets sanitizer_logs to the number of logs with one: each fails its suite.
sanitizer_reports() {
    local who="$1" log re='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:'
    sanitizer_logs=0
    while IFS= read -r log; do
        [[ -n "$log" ]] || continue
        echo "$who: sanitizer report in $(basename "$log"):"
        grep -m 5 -E "$re" "$log"
        sanitizer_logs=$((sanitizer_logs + 1))
    done < <(grep -l -E "$re" "$2"/*.log 2>/dev/null || true)
}

# The suite drivers that run on a stack of their own (tests/faults/run.sh, tests/cluster/run.sh):
# driver_artifacts DIR: empties DIR, where the driver's logs go, and sets ARTIFACTS to it.
driver_artifacts() {
    ARTIFACTS="$1"
    rm -rf "$ARTIFACTS"
    mkdir -p "$ARTIFACTS"
}

# driver_finish WHO PASSED FAILED: prints the driver's last line, "WHO: N passed, M failed", and
# exits, 0 only if none failed.
driver_finish() {
    echo "$1: $2 passed, $3 failed"
    exit "$(($3 > 0 ? 1 : 0))"
}

# driver_servers WHO WHAT: starts PostgreSQL and RabbitMQ (stack_up servers; WHAT names them in
# the message), logging to $ARTIFACTS/stack.log; when they do not start, prints the log's tail
# and finishes with one failure.
driver_servers() {
    echo "$1: starting $2 (state in $STATE_DIR)"
    if ! stack_up servers >"$ARTIFACTS/stack.log" 2>&1; then
        tail -n 30 "$ARTIFACTS/stack.log"
        echo "$1: the servers did not start, see $ARTIFACTS/stack.log"
        driver_finish "$1" 0 1
    fi
}

# driver_node WHO TIMEOUT_S ARGS...: node --test with TAP output and ARGS, stopped after TIMEOUT_S
# seconds; prints its output and keeps it in $ARTIFACTS/WHO.log; sets tap_pass and tap_fail.
driver_node() {
    local who="$1" timeout_s="$2" out st=0
    shift 2
    out="$(timeout -k 10 "$timeout_s" node --test --test-reporter=tap "$@" 2>&1)" || st=$?
    printf '%s\n' "$out" | tee "$ARTIFACTS/$who.log"
    tap_counts "$who" "$st" "$out"
}
