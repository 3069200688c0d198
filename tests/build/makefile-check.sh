#!/usr/bin/env bash
# tests/build/makefile-check.sh: the first `make up` / `make test` / `make bench` on a machine
# without the -dev packages must work. The Makefile may compute the libraries' flags
# (pkg-config, pg_config) only in recipes, after `deps` has installed them, never while make
# reads the file (a `:=` there once left the first build without any library flags).
# Runs make with PATH stand-ins for pkg-config and pg_config that record every call, for targets
# that must not need them, and fails if any was called. Prints "makefile: N passed, M failed".
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"
shims="$(mktemp -d)"
trap 'rm -rf "$shims"' EXIT
calls="$shims/calls.log"
: >"$calls"
for tool in pkg-config pg_config; do
    printf '#!/bin/sh\necho "%s $*" >>"%s"\nexit 1\n' "$tool" "$calls" >"$shims/$tool"
    chmod 755 "$shims/$tool"
done

pass=0
fail=0
# check NAME MAKE-ARGS...: make -n with the stand-ins first on PATH calls neither tool.
check() {
    local name="$1"
    shift
    : >"$calls"
    if ! PATH="$shims:$PATH" env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -n "$@" >/dev/null 2>&1; then
        echo "not ok - $name: make -n $* failed"
        fail=$((fail + 1))
    elif [[ -s "$calls" ]]; then
        echo "not ok - $name: make $* ran $(tr '\n' ';' <"$calls") before deps"
        fail=$((fail + 1))
    else
        echo "ok - $name"
        pass=$((pass + 1))
    fi
}

check "reading the Makefile computes no flags (deps)" deps
check "make up installs before it computes flags" deps down
# make up: its recipe runs deps first, then a sub-make for the build (which reads the flags then).
if grep -Eq '^up:.*\bbuild\b' Makefile; then
    echo "not ok - up builds in the same make that read the flags before deps (up: deps build)"
    fail=$((fail + 1))
else
    echo "ok - up builds in a make started after deps"
    pass=$((pass + 1))
fi
echo "makefile: $pass passed, $fail failed"
((fail == 0))
