#!/usr/bin/env bash
# Installs the Debian 12 packages the project needs to build, run and test (as root).
# Fast no-op when everything is present. Services that the packages would start on install
# (postgresql, rabbitmq-server, epmd) are kept from starting, or stopped if they started anyway.
set -euo pipefail

packages=(
    build-essential pkg-config libpq-dev libmicrohttpd-dev libjansson-dev librabbitmq-dev check
    postgresql-15 postgresql-contrib postgresql-15-pgtap pgtap rabbitmq-server curl jq nodejs
)

installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == installed ]]
}

missing=()
for pkg in "${packages[@]}"; do
    installed "$pkg" || missing+=("$pkg")
done
# npm may come with another nodejs build: only install Debian's when there is no npm at all.
if ! command -v npm >/dev/null 2>&1; then
    missing+=(npm)
fi

if ((${#missing[@]} == 0)); then
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
echo "deps.sh: done"
