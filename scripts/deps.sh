#!/usr/bin/env bash
# deps.sh [--only] [PACKAGE...]: installs the Debian 12 packages the project needs to build, run
# and test (as root), and the browser test's npm packages (tests/browser, from its
# package-lock.json). PACKAGE...: these too (bench/run.sh: wrk, perf ...); --only PACKAGE...:
# these alone, no npm (scripts/fuzz.sh). Fast no-op when everything is present. Services that the
# packages would start on install (postgresql, rabbitmq-server, epmd, nginx) are kept from
# starting; PostgreSQL and RabbitMQ are stopped if they started anyway.
set -euo pipefail

only=0
if [[ "${1:-}" == --only ]]; then
    only=1
    shift
fi
if ((only)); then
    packages=("$@")
else
    # what builds the services: scripts/packages-build.txt, the list the Dockerfiles install too
    mapfile -t build_packages < <(grep -Ev '^[[:space:]]*(#|$)' "$(dirname "${BASH_SOURCE[0]}")/packages-build.txt")
    packages=(
        "${build_packages[@]}" check
        postgresql-15 postgresql-contrib postgresql-15-pgtap pgtap rabbitmq-server curl jq nodejs
        chromium docker-compose python3-yaml iproute2 procps nginx-light gettext-base shellcheck clang-format
        "$@"
    )
fi

# browser_deps: npm ci in tests/browser when node_modules is missing or the lock file changed
# since the last install (its sha256 is kept in node_modules/.lock.sha256).
browser_deps() {
    local dir lock stamp sum
    ((!only)) || return 0
    dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/browser"
    lock="$dir/package-lock.json"
    stamp="$dir/node_modules/.lock.sha256"
    [[ -f "$lock" ]] || return 0
    sum="$(sha256sum "$lock" | cut -d' ' -f1)"
    if [[ -d "$dir/node_modules" && -f "$stamp" && "$(cat "$stamp")" == "$sum" ]]; then
        return 0
    fi
    echo "deps.sh: npm ci in tests/browser"
    (cd "$dir" && npm ci --no-audit --no-fund) || return 1
    echo "$sum" >"$stamp"
}

installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

missing=()
for pkg in "${packages[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done
# npm may come with another nodejs build: only install Debian's when there is no npm at all.
if ((!only)) && ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
fi

if ((${#missing[@]} == 0)); then
    browser_deps || echo "deps.sh: npm ci in tests/browser failed; the browser tests cannot run" >&2
    exit 0
fi

if ((EUID != 0)); then
    echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
    exit 1
fi

echo "deps.sh: installing ${missing[*]}"

# Pids of the system services' processes: the Debian cluster's postmaster (config under
# /etc/postgresql) and anything the rabbitmq user runs (beam.smp, epmd). Project-local servers
# and other users' processes never match.
service_pids() {
    ps -e -o pid=,user=,comm=,args= | awk '
        $3 == "postgres" && $0 ~ /config_file=\/etc\/postgresql\// {print $1}
        $2 == "rabbitmq" && ($3 == "beam.smp" || $3 == "epmd") {print $1}' | sort
}
before="$(service_pids)"

policy=/usr/sbin/policy-rc.d
created_policy=0
cleanup() {
    if ((created_policy)); then
        rm -f "$policy"
    fi
}
trap cleanup EXIT
if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\n# temporary, from scripts/deps.sh: no service starts during install\nexit 101\n' \
        >"$policy"
    chmod 755 "$policy"
    created_policy=1
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends "${missing[@]}"

cleanup
created_policy=0

# Stop what the install started anyway (policy-rc.d is honoured by invoke-rc.d only):
# SIGINT is PostgreSQL's fast shutdown, SIGTERM stops beam.smp and epmd.
for pid in $(comm -13 <(echo "$before") <(service_pids)); do
    name="$(ps -o comm= -p "$pid" 2>/dev/null || true)"
    [[ -n "$name" ]] || continue
    echo "deps.sh: stopping $name (pid $pid), started by the install"
    if [[ "$name" == postgres ]]; then
        kill -INT "$pid" 2>/dev/null || true
    else
        kill -TERM "$pid" 2>/dev/null || true
    fi
done
browser_deps || echo "deps.sh: npm ci in tests/browser failed; the browser tests cannot run" >&2
echo "deps.sh: done"
