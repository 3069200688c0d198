# shellcheck shell=bash disable=SC2034 # tap_* and sanitizer_logs are the caller's
# tests/lib.sh: sourced by the test drivers (tests/run.sh, tests/faults/run.sh): how they read a
# verdict. Defines functions only.

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
