#!/usr/bin/env bash
# Installs what `make fuzz` needs with scripts/deps.sh --only (Debian 12, as root):
# clang and libFuzzer's runtime (libclang-rt-14-dev; clang only recommends it, and deps.sh
# installs without recommends). Fast no-op when `$FUZZ_CC -fsanitize=fuzzer` already links.
set -euo pipefail

FUZZ_CC="${FUZZ_CC:-clang}"
packages=(clang libclang-rt-14-dev)

# links_fuzzer: whether $FUZZ_CC builds a libFuzzer program with ASan and UBSan.
links_fuzzer() {
    local dir rc=0
    command -v "$FUZZ_CC" >/dev/null 2>&1 || return 1
    dir="$(mktemp -d)"
    printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);' \
        'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' \
        >"$dir/t.c"
    "$FUZZ_CC" -fsanitize=fuzzer,address,undefined -o "$dir/t" "$dir/t.c" >/dev/null 2>&1 || rc=1
    rm -rf "$dir"
    return "$rc"
}

links_fuzzer && exit 0

"$(dirname "${BASH_SOURCE[0]}")/deps.sh" --only "${packages[@]}"
links_fuzzer || {
    echo "fuzz.sh: $FUZZ_CC cannot link -fsanitize=fuzzer,address,undefined although ${packages[*]} are installed" >&2
    exit 1
}
