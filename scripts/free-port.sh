#!/usr/bin/env bash
# Prints N (default 1) distinct free TCP ports on 127.0.0.1, one per line, picked at random
# from 20000 up to the start of the kernel's ephemeral range (net.ipv4.ip_local_port_range,
# 32768 on Debian): a port the tests listen on later must not be one the kernel may hand to an
# outgoing connection meanwhile (that once took a relay's metrics port in the fault suite).
# A port is free when no TCP socket uses it (ss -Htan, listening or not).
# Skips the local stack's default ports and RabbitMQ's CLI distribution range (35672-35682).
set -euo pipefail

count="${1:-1}"
if [[ ! "$count" =~ ^[1-9][0-9]{0,2}$ ]]; then
    echo "usage: $0 [N]   (1 <= N <= 999)" >&2
    exit 2
fi

declare -A taken=()
while read -r local_addr; do
    taken["${local_addr##*:}"]=1
done < <(ss -Htan | awk '{print $4}')
for port in 8080 8081 54329 56729 56730 56731 $(seq 35672 35682); do
    taken[$port]=1
done

low=20000
high=32768
read -r ephemeral _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || true
if [[ "${ephemeral:-}" =~ ^[0-9]+$ ]] && ((ephemeral > low + 2000)); then
    high=$ephemeral
fi
picked=0
tries=0
while ((picked < count)); do
    if ((++tries > 10000)); then
        echo "free-port.sh: could not find $count free ports" >&2
        exit 1
    fi
    port=$(((RANDOM << 15 | RANDOM) % (high - low) + low))
    [[ -n "${taken[$port]:-}" ]] && continue
    taken[$port]=1
    echo "$port"
    picked=$((picked + 1))
done
