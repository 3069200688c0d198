#!/usr/bin/env bash
# The `make test` driver: installs missing packages, builds with ASan+UBSan into build/asan,
# starts a throwaway stack (scripts/stack.sh: PostgreSQL, RabbitMQ, services) on free ports in a
# temp STATE_DIR, and runs the suites in TEST_SUITES (default: every suite, see SUITES), going
# on after a failing suite. e2e, seeds, browser and newman share one start of the services,
# stopped after the last.
# TEST_STACK=cluster runs them on a cluster stack (stack_init --cluster: three RabbitMQ nodes,
# quorum queues, BROKER_URL the list of the nodes; `make test-cluster` does so for e2e and seeds);
# TEST_ARTIFACTS (default test-artifacts) is where the logs go.
# Prints one line per suite, then as its very last line "N passed, M failed" (individual tests).
# Exits non-zero if any test failed or any suite could not run. Logs end up in test-artifacts/.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"
# shellcheck source=scripts/stack.sh
source scripts/stack.sh
# shellcheck source=tests/lib.sh
source tests/lib.sh

SUITES="${TEST_SUITES:-lint makefile unit pgtap e2e seeds browser newman faults cluster fuzz compose bench}"
for s in $SUITES; do
    case "$s" in
        lint | makefile | unit | pgtap | e2e | seeds | browser | newman | faults | cluster | fuzz | compose | bench) ;;
        *)
            echo "run.sh: unknown suite '$s' in TEST_SUITES (known: lint makefile unit pgtap e2e seeds browser newman faults cluster fuzz compose bench)" >&2
            exit 2
            ;;
    esac
done

ARTIFACTS="${TEST_ARTIFACTS:-$REPO_ROOT/test-artifacts}"
BUILD_DIR=build/asan
total_pass=0
total_fail=0
broken=0
results=()

# record SUITE PASSED FAILED [NOTE]: one suite's result line.
record() {
    local line="$1: $2 passed, $3 failed${4:+ ($4)}"
    total_pass=$((total_pass + $2))
    total_fail=$((total_fail + $3))
    results+=("$line")
    echo "=== $line"
}

# cannot_run SUITE REASON: the suite could not run at all.
cannot_run() {
    broken=$((broken + 1))
    results+=("$1: could not run ($2)")
    echo "=== $1: could not run ($2)"
}

section() {
    printf '\n=== %s\n' "$*"
}

# --- set-up ---------------------------------------------------------------------------------
rm -rf "$ARTIFACTS"
# what git sees as changed before the run: `make test` must add nothing to it (checked at the end)
tree_before="$(git status --porcelain --untracked-files=all 2>/dev/null || true)"
mkdir -p "$ARTIFACTS"

section "dependencies"
if ! scripts/deps.sh; then
    echo "run.sh: could not install the dependencies"
    echo "0 passed, 0 failed"
    exit 1
fi

build_ok=1
if [[ " $SUITES " == *" unit "* || " $SUITES " == *" e2e "* || " $SUITES " == *" seeds "* ||
    " $SUITES " == *" browser "* ||
    " $SUITES " == *" newman "* || " $SUITES " == *" faults "* ]]; then
    section "build (SANITIZE=address,undefined, $BUILD_DIR)"
    if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -j2 build SANITIZE=address,undefined \
        BUILD="$BUILD_DIR" >"$ARTIFACTS/build.log" 2>&1; then
        build_ok=0
        tail -n 40 "$ARTIFACTS/build.log"
        echo "run.sh: build failed, see test-artifacts/build.log"
    fi
fi

export BIN_DIR="$REPO_ROOT/$BUILD_DIR/bin"
export CK_DEFAULT_TIMEOUT="${CK_DEFAULT_TIMEOUT:-30}"
# the query API's event streams send a keep-alive this often; short, so e2e sees one quickly
export SSE_KEEPALIVE_MS="${SSE_KEEPALIVE_MS:-2000}"
# the services run as `make up` runs them (loopback, no token: the seeds' curl commands carry
# none); tests/e2e/auth.test.mjs starts a command API of its own with a token
export COMMAND_API_TOKEN="" COMMAND_API_AUTH=auto
stack_opts=(--sanitized)
case "${TEST_STACK:-single}" in
    single) ;;
    cluster) stack_opts+=(--cluster) ;;
    *)
        echo "run.sh: unknown TEST_STACK '$TEST_STACK' (single or cluster)" >&2
        exit 2
        ;;
esac
if ! stack_init "${stack_opts[@]}" test "$ARTIFACTS"; then
    echo "run.sh: could not pick free ports"
    echo "0 passed, 0 failed"
    exit 1
fi

# built SUITE: whether the sanitizer build succeeded; if not, SUITE could not run.
built() {
    ((build_ok)) && return 0
    cannot_run "$1" "build failed"
    return 1
}

db_state=unknown # unknown | ready | failed
db_ready() {
    if [[ "$db_state" == unknown ]]; then
        if stack_db; then
            db_state=ready
        else
            db_state=failed
        fi
    fi
    [[ "$db_state" == ready ]]
}

# --- unit: the Check (or cmocka) test binaries -------------------------------------------------
suite_unit() {
    section "unit"
    built unit || return 0
    local bin out st pass=0 fail=0 n f e line found
    local log="$ARTIFACTS/unit.log"
    : >"$log"
    local -a bins=()
    for bin in "$BUILD_DIR"/tests/*; do
        [[ -f "$bin" && -x "$bin" ]] && bins+=("$bin")
    done
    if ((${#bins[@]} == 0)); then
        record unit 0 0 "no test binaries"
        return 0
    fi
    for bin in "${bins[@]}"; do
        st=0
        out="$(timeout -k 10 600 "$bin" 2>&1)" || st=$?
        printf '%s\n%s\n' "--- $bin (exit $st)" "$out" | tee -a "$log"
        found=0
        n=0 f=0 e=0
        while IFS= read -r line; do
            if [[ "$line" =~ [0-9]+%:\ Checks:\ ([0-9]+),\ Failures:\ ([0-9]+),\ Errors:\ ([0-9]+) ]]; then
                n=$((n + BASH_REMATCH[1]))
                f=$((f + BASH_REMATCH[2] + BASH_REMATCH[3]))
                found=1
            elif [[ "$line" =~ ^\[\ +PASSED\ +\]\ ([0-9]+)\ test ]]; then
                n=$((n + BASH_REMATCH[1]))
                found=1
            elif [[ "$line" =~ ^\[\ +FAILED\ +\]\ ([0-9]+)\ test ]]; then
                n=$((n + BASH_REMATCH[1]))
                f=$((f + BASH_REMATCH[1]))
                found=1
            fi
        done <<<"$out"
        e=0
        if ((st != 0 && f == 0)); then
            # crashed, timed out or a sanitizer report at exit: count the binary as one failure
            e=1
            echo "run.sh: $bin exited with status $st"
        elif ((!found)); then
            e=1
            echo "run.sh: $bin printed no test summary"
        fi
        pass=$((pass + n - f))
        fail=$((fail + f + e))
    done
    record unit "$pass" "$fail"
}

# --- pgtap: pg_prove on db/tests/{write,read}/*.sql and */*.sql --------------------------------
# prove_dir NAME URL DIR: run one folder (its files, then one folder per repeatable file of
# migrations/NAME/functions/); adds to pg_pass / pg_fail.
prove_dir() {
    local name="$1" url="$2" dir="$3" out st line result=""
    local tests=0 failed=0 missing=0 dubious=0 in_entry=0 cur_failed=0 cur_missing=0
    local -a files=()
    shopt -s nullglob
    files=("$dir"/*.sql "$dir"/*/*.sql)
    shopt -u nullglob
    if ((${#files[@]} == 0)); then
        echo "run.sh: no pgTAP tests in $dir, skipped"
        return 0
    fi
    st=0
    out="$(timeout -k 10 600 pg_prove --nocolor --failures --comments --dbname "$url" "${files[@]}" 2>&1)" ||
        st=$?
    printf '%s\n%s\n' "--- $name ($dir, exit $st)" "$out" | tee -a "$ARTIFACTS/pgtap.log"
    # Each file in prove's "Test Summary Report" adds its failed tests, plus the planned tests
    # that never ran ("Bad plan"); a listed file with neither (a script that died) counts as one.
    while IFS= read -r line; do
        if [[ "$line" =~ \(Wstat:\ .*\ Failed:\ ([0-9]+)\) || "$line" =~ ^Files=[0-9]+,\ Tests=([0-9]+) ]]; then
            if ((in_entry)); then
                ((cur_failed + cur_missing > 0)) || dubious=$((dubious + 1))
                failed=$((failed + cur_failed))
                missing=$((missing + cur_missing))
            fi
            if [[ "$line" == Files=* ]]; then
                tests="${BASH_REMATCH[1]}"
                in_entry=0
            else
                in_entry=1 cur_failed="${BASH_REMATCH[1]}" cur_missing=0
            fi
        elif [[ "$line" =~ You\ planned\ ([0-9]+)\ tests?\ but\ ran\ ([0-9]+) ]]; then
            if ((in_entry && BASH_REMATCH[1] > BASH_REMATCH[2])); then
                cur_missing=$((BASH_REMATCH[1] - BASH_REMATCH[2]))
            fi
        elif [[ "$line" =~ ^Result:\ ([A-Z]+) ]]; then
            result="${BASH_REMATCH[1]}"
        fi
    done <<<"$out"
    if [[ "$result" == PASS && $st -eq 0 ]]; then
        failed=0 missing=0 dubious=0 # listed for a TODO that passed, not a failure
    elif ((failed + missing + dubious == 0)); then
        dubious=1 # failed without a summary we understand
    fi
    tests=$((tests > failed ? tests - failed : 0))
    pg_pass=$((pg_pass + tests))
    pg_fail=$((pg_fail + failed + missing + dubious))
}

suite_pgtap() {
    section "pgtap"
    if ! db_ready; then
        cannot_run pgtap "PostgreSQL start or migrations failed"
        return 0
    fi
    : >"$ARTIFACTS/pgtap.log"
    pg_pass=0
    pg_fail=0
    prove_dir write "$DATABASE_URL" db/tests/write
    prove_dir read "$READ_DATABASE_URL" db/tests/read
    record pgtap "$pg_pass" "$pg_fail"
}

# --- the services, shared by e2e, seeds, browser and newman ------------------------------------
services_state=down # down | up | failed
services_why=""
last_service_suite=""
for s in $SUITES; do
    [[ "$s" == e2e || "$s" == seeds || "$s" == browser || "$s" == newman ]] && last_service_suite="$s"
done

# services_up: starts PostgreSQL (migrated), RabbitMQ and the four services once; later calls
# reuse them. Returns 1, with the reason in services_why, if they could not be started.
services_up() {
    if [[ "$services_state" == down ]]; then
        if ! db_ready; then
            services_state=failed services_why="PostgreSQL start or migrations failed"
        elif ! stack_broker; then
            services_state=failed services_why="RabbitMQ did not start"
        elif ! stack_services; then
            scripts/services.sh stop || true
            services_state=failed services_why="services did not start, see test-artifacts/logs"
        else
            services_state=up
        fi
    fi
    [[ "$services_state" == up ]]
}

# services_done SUITE: after the last suite that needs them, stops the services and sets
# sanitizer_fail to the number of service logs with a sanitizer report (0 otherwise).
sanitizer_fail=0
services_done() {
    sanitizer_fail=0
    [[ "$1" == "$last_service_suite" && "$services_state" == up ]] || return 0
    scripts/services.sh stop || true
    services_state=stopped
    # A sanitizer report in a service log fails the suite (one failure per log with a report).
    sanitizer_reports run.sh "$STATE_DIR/logs"
    sanitizer_fail=$sanitizer_logs
}

# node_suite NAME DIR: node --test on DIR with the TAP reporter against the services (started
# if need be), output in test-artifacts/NAME.log; records its counts (tap_counts, tests/lib.sh)
# and, after the last suite on the services, their sanitizer reports.
node_suite() {
    local name="$1" dir="$2" out st=0
    if ! services_up; then
        cannot_run "$name" "$services_why"
        return 0
    fi
    out="$(timeout -k 10 1800 node --test --test-reporter=tap "$dir" 2>&1)" || st=$?
    printf '%s\n' "$out" | tee "$ARTIFACTS/$name.log"
    tap_counts "run.sh: $dir" "$st" "$out"
    services_done "$name"
    record "$name" "$tap_pass" "$((tap_fail + sanitizer_fail))"
}

# e2e_deps: the npm packages of tests/e2e (ajv and friends for the OpenAPI contract check, which
# the seeds suite uses too), once per run.
e2e_deps_done=0
e2e_deps() {
    ((e2e_deps_done)) && return 0
    e2e_deps_done=1
    if [[ -f tests/e2e/package.json ]] &&
        jq -e '(.dependencies // {}) + (.devDependencies // {}) | length > 0' \
            tests/e2e/package.json >/dev/null; then
        if [[ -f tests/e2e/package-lock.json ]]; then
            (cd tests/e2e && npm ci --no-audit --no-fund) || true
        else
            (cd tests/e2e && npm install --no-audit --no-fund) || true
        fi
    fi
}

# --- e2e: node --test against the four real services (ASan+UBSan builds) -------------------------
suite_e2e() {
    section "e2e"
    built e2e || return 0
    local -a files=()
    mapfile -t files < <(find tests/e2e -name node_modules -prune -o -type f \
        \( -name '*.test.*js' -o -name '*-test.*js' -o -name '*_test.*js' -o -name 'test-*.*js' \) \
        -print)
    if ((${#files[@]} == 0)); then
        record e2e 0 0 "no tests in tests/e2e"
        return 0
    fi
    e2e_deps
    node_suite e2e tests/e2e/
}

# --- seeds: the seed systems' own commands, as their READMEs write them, against the same services
# and through the nginx gateway of docker/gateway (tests/seeds, docs/seeds.md) --------------------
suite_seeds() {
    section "seeds"
    built seeds || return 0
    if ! command -v nginx >/dev/null 2>&1; then
        cannot_run seeds "nginx is not installed (scripts/deps.sh installs nginx-light)"
        return 0
    fi
    e2e_deps
    node_suite seeds tests/seeds/
}

# --- browser: node --test + playwright-core driving Debian's chromium, against the same services -
suite_browser() {
    section "browser"
    built browser || return 0
    if [[ ! -d tests/browser/node_modules/playwright-core ]]; then
        cannot_run browser "playwright-core is not installed in tests/browser (scripts/deps.sh)"
        return 0
    fi
    if [[ ! -x "${CHROMIUM_PATH:-/usr/bin/chromium}" ]]; then
        cannot_run browser "no chromium at ${CHROMIUM_PATH:-/usr/bin/chromium} (scripts/deps.sh)"
        return 0
    fi
    node_suite browser tests/browser/
}

# summary_suite NAME LOG CMD...: summary_run (tests/lib.sh) of CMD, its counts recorded as NAME's.
summary_suite() {
    local name="$1"
    shift
    summary_run 15 "$@"
    record "$name" "$sum_pass" "$sum_fail"
}

# --- faults: tests/faults/run.sh on a stack of its own (it kills services, restarts PostgreSQL
# and RabbitMQ); it rewrites the figures table of docs/reliability.md --------------------------
suite_faults() {
    section "faults"
    built faults || return 0
    summary_suite faults "$ARTIFACTS/faults.log" env FAULTS_SKIP_DEPS=1 \
        FAULTS_BUILD_DIR="$BUILD_DIR" FAULTS_ARTIFACTS="$ARTIFACTS/faults" \
        timeout -k 10 1800 tests/faults/run.sh
}

# --- cluster: the broker cluster (tests/cluster/run.sh: its own throwaway stack with three
# RabbitMQ nodes; orders end to end, one node killed -9 under load; about 2 minutes) ----------
suite_cluster() {
    section "cluster"
    built cluster || return 0
    summary_suite cluster "$ARTIFACTS/cluster.log" env BIN_DIR="$REPO_ROOT/$BUILD_DIR/bin" \
        CLUSTER_FULL=0 CLUSTER_ARTIFACTS="$ARTIFACTS/cluster" timeout -k 10 900 tests/cluster/run.sh
}

# --- fuzz: every libFuzzer target for FUZZ_SECONDS (default 8) from its seed corpus ------------
suite_fuzz() {
    section "fuzz (${FUZZ_SECONDS:-8} s per target)"
    local st=0 out pass fail
    out="$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL timeout -k 10 1200 \
        make fuzz FUZZ_SECONDS="${FUZZ_SECONDS:-8}" 2>&1)" || st=$?
    printf '%s\n' "$out" >"$ARTIFACTS/fuzz.log"
    tail -n 16 <<<"$out"
    # one line per target: "<target> ok|FAIL ..." (tests/fuzz/run.sh)
    pass="$(grep -cE '^[a-z_]+ +ok ' <<<"$out" || true)"
    fail="$(grep -cE '^[a-z_]+ +(regression|crash) ' <<<"$out" || true)"
    ((st == 0 || fail > 0)) || fail=1
    ((pass + fail > 0)) || fail=1
    record fuzz "$pass" "$fail"
}

# --- lint: clang-format --dry-run --Werror on every C file, shellcheck on every script ---------
suite_lint() {
    section "lint (clang-format, shellcheck)"
    summary_suite lint "$ARTIFACTS/lint.log" timeout -k 10 600 tests/lint/run.sh
}

# --- makefile: the first make up / make test on a bare machine computes no flags before deps -----
suite_makefile() {
    section "makefile"
    summary_suite makefile "$ARTIFACTS/makefile.log" tests/build/makefile-check.sh
}

# --- compose: docker-compose.yml checked without a Docker engine (scripts/compose-check.sh) -----
suite_compose() {
    section "compose"
    # the variables each service reads come from its binary's --help: the test build's, if any
    local bin=build/bin
    [[ -x "$BUILD_DIR/bin/relay" && -x "$BUILD_DIR/bin/consumer" ]] && bin="$BUILD_DIR/bin"
    COMPOSE_CHECK_BIN="$bin" summary_suite compose "$ARTIFACTS/compose.log" scripts/compose-check.sh
}

# --- newman: the Postman collection (postman/) against the running services -----------------
suite_newman() {
    section "newman"
    built newman || return 0
    if ! services_up; then
        cannot_run newman "$services_why"
        return 0
    fi
    summary_run 25 "$ARTIFACTS/newman.log" timeout -k 10 600 postman/run.sh
    services_done newman
    record newman "$sum_pass" "$((sum_fail + sanitizer_fail))"
}

# --- bench: `make bench-smoke`, the benchmark harness for a few seconds on its own stack; it
# checks that every figure was produced, never a speed ------------------------------------------
suite_bench() {
    section "bench (smoke)"
    local out st=0
    out="$(env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL timeout -k 10 1800 make bench-smoke 2>&1)" || st=$?
    printf '%s\n' "$out" >"$ARTIFACTS/bench-smoke.log"
    tail -n 20 <<<"$out"
    if ((st == 0)); then
        record bench 1 0
    else
        record bench 0 1 "make bench-smoke exited $st"
    fi
}

# each suite's wall time, and the whole run's (README: expected durations)
run_started=$SECONDS
timings=()
for s in $SUITES; do
    suite_started=$SECONDS
    "suite_$s"
    timings+=("$(printf '%-10s %4d s' "$s" $((SECONDS - suite_started)))")
done

stack_stop
# the work tree: a test run writes only ignored folders (test-artifacts/, build/, .state/ ...)
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    tree_after="$(git status --porcelain --untracked-files=all)"
    # what the run added to git's view (a change committed meanwhile only shortens the list)
    tree_new="$(grep -vxFf <(echo "$tree_before") <<<"$tree_after" || true)"
    if [[ -z "$tree_new" ]]; then
        record worktree 1 0
    else
        while IFS= read -r line; do
            echo "run.sh: changed by the run: $line"
        done <<<"$tree_new"
        record worktree 0 1 "the run changed files git tracks or sees"
    fi
fi
echo
echo "=== durations"
printf '%-10s %4d s\n' set-up "$run_started" # dependencies and the sanitizer build
printf '%s\n' "${timings[@]}"
printf '%-10s %4d s\n' total "$SECONDS"
echo
echo "=== summary (logs in test-artifacts/)"
printf '%s\n' "${results[@]}"
echo "$total_pass passed, $total_fail failed"
if ((total_fail > 0 || broken > 0)); then
    exit 1
fi
