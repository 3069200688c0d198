#!/usr/bin/env bash
# tests/build/makefile-check.sh: the first `make up` / `make test` / `make bench` on a machine
# without the -dev packages must work. The Makefile may compute the libraries' flags
# (pkg-config, pg_config) only in recipes, after `deps` has installed them, never while make
# reads the file (a `:=` there once left the first build without any library flags). Also checks
# that make up ends by printing the addresses a person needs (issue: first contact).
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
# make up ends by printing every address a person needs (scripts/urls.sh), and the token rule
urls="$(COMMAND_API_TOKEN='' COMMAND_API_AUTH=auto HTTP_BIND_ADDRESS=127.0.0.1 RABBITMQ_MANAGEMENT_PORT=15672 \
    scripts/urls.sh 2>&1 || true)"
missing=""
for label in "Command API:" "Query API:" "Dashboard:" "Mood sender:" "Mood wall:" "RabbitMQ UI:.*15672" \
    "Token required: *no"; do
    grep -Eq "$label" <<<"$urls" || missing+=" '$label'"
done
if grep -q 'scripts/urls.sh' scripts/up.sh && [[ -z "$missing" ]]; then
    echo "ok - make up prints the URLs and whether a token is required"
    pass=$((pass + 1))
else
    echo "not ok - make up's closing lines lack:${missing:- the call of scripts/urls.sh}"
    fail=$((fail + 1))
fi
tokened="$(COMMAND_API_TOKEN=x COMMAND_API_AUTH=auto scripts/urls.sh 2>&1 || true)"
if grep -Eq "Token required: *yes" <<<"$tokened"; then
    echo "ok - with COMMAND_API_TOKEN set it says a token is required"
    pass=$((pass + 1))
else
    echo "not ok - with COMMAND_API_TOKEN set it does not say a token is required"
    fail=$((fail + 1))
fi
echo "makefile: $pass passed, $fail failed"
((fail == 0))
