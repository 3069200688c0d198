#!/usr/bin/env bash
# The lint suite of `make test` (tests/run.sh) and `make lint`: clang-format --dry-run --Werror on
# every tracked C file (the check `make format-check` makes) and shellcheck on every tracked shell
# script (*.sh, .ci/run and any tracked file without an extension whose first line is a shell
# shebang), and the layering check (tests/lint/layers.sh: each of its checks is a test). Each file
# is one test; prints one line per failure and, as its last line, "N passed, M failed". Exits non-zero if a file failed or a tool is missing.
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
while IFS= read -r f; do
    if out="$(clang-format --dry-run --Werror "$f" 2>&1)"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "lint: clang-format: $f is not formatted (make format)"
        head -n 6 <<<"$out"
    fi
done < <(git ls-files '*.c' '*.h')

while IFS= read -r f; do
    if out="$(shellcheck "$f" 2>&1)"; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "lint: shellcheck: $f"
        head -n 20 <<<"$out"
    fi
done < <(shell_scripts | sort -u)

# the layering check keeps docs/architecture.md's map of the tree true; its failure lines go out
# as they are, its last line ("layers: N passed, M failed") is added to the totals
layers_out="$(bash tests/lint/layers.sh 2>&1)" || true
layers_last="$(tail -n 1 <<<"$layers_out")"
if [[ "$layers_last" =~ ^layers:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    pass=$((pass + BASH_REMATCH[1]))
    fail=$((fail + BASH_REMATCH[2]))
    sed '$d' <<<"$layers_out"
else
    fail=$((fail + 1))
    echo "lint: tests/lint/layers.sh did not finish"
    head -n 20 <<<"$layers_out"
fi

echo "lint: $pass passed, $fail failed"
((fail == 0))
