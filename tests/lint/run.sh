#!/usr/bin/env bash
# The lint suite of `make test` (tests/run.sh) and `make lint`: clang-format --dry-run --Werror on
# every tracked C file (the check `make format-check` makes) and shellcheck on every tracked shell
# script (*.sh, .ci/run and any tracked file without an extension whose first line is a shell
# shebang), and tests/lint/sql-by-role.sh on migrations/. Each file is one test; prints one line
# per failure and, as its last line, "N passed, M failed". Exits non-zero if a file failed or a
# tool is missing.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

for tool in clang-format shellcheck; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "lint: $tool is not installed (scripts/deps.sh installs it)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done

# shell_scripts: the tracked shell scripts, one per line
shell_scripts() {
    local f first
    git ls-files '*.sh' .ci/run
    while IFS= read -r f; do
        [[ "$f" == */* ]] && [[ "${f##*/}" == *.* ]] && continue
        [[ "$f" != */* && "$f" == *.* ]] && continue
        [[ -f "$f" ]] || continue
        IFS= read -r first <"$f" || true
        [[ "$first" =~ ^#!.*(/|env\ )(ba|da|k)?sh([[:space:]]|$) ]] && echo "$f"
    done < <(git ls-files)
}

pass=0 fail=0
# check LINES MESSAGE CMD...: runs CMD FILE for each file read on stdin; a failure prints
# "lint: MESSAGE" (FILE in place of {}) and the first LINES lines of CMD's output.
check() {
    local lines="$1" message="$2" f out
    shift 2
    while IFS= read -r f; do
        if out="$("$@" "$f" 2>&1)"; then
            pass=$((pass + 1))
        else
            fail=$((fail + 1))
            echo "lint: ${message//\{\}/$f}"
            head -n "$lines" <<<"$out"
        fi
    done
}

check 6 'clang-format: {} is not formatted (make format)' clang-format --dry-run --Werror \
    < <(git ls-files '*.c' '*.h')
check 20 'shellcheck: {}' shellcheck < <(shell_scripts | sort -u)

# SQL filed by role: no function in a versioned migration, one current body each
st=0
out="$(tests/lint/sql-by-role.sh 2>&1)" || st=$?
grep -v '^sql-by-role: [0-9]* passed' <<<"$out" || true
if [[ "$(tail -n 1 <<<"$out")" =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
    pass=$((pass + BASH_REMATCH[1])) fail=$((fail + BASH_REMATCH[2]))
fi
((st == 0)) || ((fail > 0)) || fail=$((fail + 1))

echo "lint: $pass passed, $fail failed"
((fail == 0))
