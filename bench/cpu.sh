# shellcheck shell=bash
# bench/cpu.sh: CPU time per order by process kind over a window (sourced after bench/lib.sh by
# write.sh, e2e.sh and report.sh).
#
#   cpu_snapshot FILE                     before and after the window
#   cpu_account START END ORDERS LOADGEN  prints "key value" lines: cpu_us.<kind> (µs per order),
#                                         the totals, cpu_orders, cpu_window_s
#   cpu_record PREFIX FILE                fig_set PREFIX.<key> for each line of such a file
#
# A snapshot holds, for every process of the stack, its utime + stime from /proc/<pid>/stat
# (clock ticks, getconf CLK_TCK; a process's figure covers all its threads) and its kind:
#   pg_write   PostgreSQL client backends of the write DB } pid -> datname from the whole
#   pg_read    PostgreSQL client backends of the read DB  } cluster's pg_stat_activity (one
#                                                           cluster holds both)
#   pg_other   every other PostgreSQL process: the postmaster, checkpointer, walwriter, background
#              writer, autovacuum launcher and workers (whatever their database), backends of
#              other databases
#   rabbitmq   beam.smp and its children (every node: the cluster stage runs three more)
#   command_api, query_api, relay, consumer: the services (their pid files; consumer also the
#              cluster stage's extra consumers, run/extra-consumer-*.pid)
# and the load generator (loadgen: wrk, whose CPU run_wrk keeps). A process in both snapshots
# counts its difference, one started within the window all its time; one that ended within the
# window is not seen (the blind spot, bench/README.md): pg_exited, what the postmaster collected
# from its children that ended meanwhile (autovacuum workers, the harness's own psql sessions), is
# reported apart and in no total. Totals: pg_total (the three PostgreSQL kinds), total (every kind
# but the load generator: the system's cost) and total_with_loadgen. machine is the busy time of
# all the machine's CPUs (/proc/stat: user, nice, system, irq, softirq) per order: whatever
# else ran counts there too.

CPU_KINDS=(pg_write pg_read pg_other rabbitmq command_api query_api relay consumer loadgen)
# shellcheck disable=SC2034 # the list report.sh shows
CPU_TOTALS=(pg_total total total_with_loadgen machine pg_exited)
CLK_TCK="$(getconf CLK_TCK)"

# cpu_pids: "pid kind" of the processes a snapshot classifies by pid (their children inherit).
cpu_pids() {
    local name pid f
    pg_super -d postgres -F ' ' -v wdb="$(url_db "$DATABASE_URL")" \
        -v rdb="$(url_db "$READ_DATABASE_URL")" <<'SQL' || return 1
SELECT pid, CASE WHEN backend_type <> 'client backend' THEN 'pg_other'
                 WHEN datname = :'wdb' THEN 'pg_write' WHEN datname = :'rdb' THEN 'pg_read'
                 ELSE 'pg_other' END
FROM pg_stat_activity WHERE pid <> pg_backend_pid();
SQL
    for name in command-api query-api relay consumer; do
        pid="$(tr -dc '0-9' 2>/dev/null <"$STATE_DIR/run/$name.pid" || true)"
        [[ -n "$pid" ]] && echo "$pid ${name//-/_}"
    done
    # the stack's node, and the nodes of the cluster stage (bench/cluster.sh) with its extra consumers
    for f in "$STATE_DIR"/rabbit/rabbit.pid "$STATE_DIR"/rabbit-[0-9]/rabbit.pid \
        "$STATE_DIR"/run/extra-consumer-*.pid; do
        pid="$(tr -dc '0-9' 2>/dev/null <"$f" || true)"
        [[ -z "$pid" ]] && continue
        [[ "$f" == */run/* ]] && echo "$pid consumer" || echo "$pid rabbitmq"
    done
    return 0
}

# cpu_snapshot FILE: "# uptime|machine_busy|pg_exited TICKS" then "pid starttime kind ticks" for
# each process of a kind. The postmaster (parent of the backends) is pg_other; a process without
# a kind of its own takes its nearest classified ancestor's (a backend's child: pg_other).
cpu_snapshot() {
    local out="$1" map="$1.pids"
    cpu_pids >"$map" || return 1
    {
        awk -v t="$CLK_TCK" '{ printf "# uptime %d\n", $1 * t }' /proc/uptime
        awk '$1 == "cpu" { printf "# machine_busy %d\n", $2 + $3 + $4 + $7 + $8 }' /proc/stat
        { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v map="$map" '
            BEGIN { while ((getline l < map) > 0) { split(l, a, " "); kind[a[1]] = a[2] } }
            {
                i = length($0)
                while (i > 0 && substr($0, i, 1) != ")") i--
                n = split(substr($0, i + 2), f, " ")
                if (n < 20) next
                pid = $1; ppid[pid] = f[2]; ticks[pid] = f[12] + f[13]
                children[pid] = f[14] + f[15]; start[pid] = f[20]
            }
            END {
                for (p in kind) if (kind[p] ~ /^pg_/ && (p in ppid)) { pm = ppid[p]; break }
                if (pm != "") { kind[pm] = "pg_other"; printf "# pg_exited %d\n", children[pm] }
                for (p in ticks) {
                    k = kind[p]; q = p
                    for (d = 0; k == "" && d < 64 && (q in ppid) && ppid[q] > 1; d++) {
                        q = ppid[q]; k = kind[q]
                        if (k == "pg_write" || k == "pg_read") k = "pg_other"
                    }
                    if (k != "") printf "%s %s %s %d\n", p, start[p], k, ticks[p]
                }
            }'
    } >"$out"
}

# cpu_account START END ORDERS LOADGEN_TICKS: the window between two snapshots, per order.
cpu_account() {
    local start="$1" end="$2" orders="$3" loadgen="$4" kinds="${CPU_KINDS[*]}"
    ((orders > 0)) || {
        log "cpu_account: no order in the window"
        return 1
    }
    awk -v orders="$orders" -v tck="$CLK_TCK" -v loadgen="$loadgen" -v kinds="$kinds" '
        NR == FNR {
            if ($1 == "#") { h0[$2] = $3 } else { t0[$1 " " $2] = $4 }
            next
        }
        $1 == "#" { h1[$2] = $3; next }
        {
            key = $1 " " $2
            if (key in t0) d = $4 - t0[key]
            else if ($2 >= h0["uptime"]) d = $4 # started within the window
            else next
            sum[$3] += d
        }
        END {
            sum["loadgen"] = loadgen
            nk = split(kinds, k, " ")
            for (i = 1; i <= nk; i++) {
                v = sum[k[i]] + 0
                if (k[i] ~ /^pg_/) pg += v
                if (k[i] != "loadgen") sys += v
                all += v
                out(k[i], v)
            }
            out("pg_total", pg); out("total", sys); out("total_with_loadgen", all)
            out("machine", h1["machine_busy"] - h0["machine_busy"])
            out("pg_exited", h1["pg_exited"] - h0["pg_exited"])
            printf "cpu_orders %d\n", orders
            printf "cpu_window_s %.3f\n", (h1["uptime"] - h0["uptime"]) / tck
        }
        function out(name, t) { printf "cpu_us.%s %.1f\n", name, t * 1000000 / tck / orders }
    ' "$start" "$end"
}

# cpu_record PREFIX FILE: records each "key value" line of FILE (cpu_account's) as PREFIX.key.
cpu_record() {
    local prefix="$1" k v
    while read -r k v; do
        fig_set "$prefix.$k" "$v"
    done <"$2"
}
