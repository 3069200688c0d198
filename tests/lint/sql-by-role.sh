#!/usr/bin/env bash
# sql-by-role.sh: the lint check of "SQL filed by role" (docs/architecture.md), per side
# (migrations/write, migrations/read: two databases, so a name such as iso_utc may be on both):
#   - a versioned file (SIDE/NNNN_*.sql) creates no function, procedure or trigger: those live in
#     the repeatable files SIDE/functions/*.sql;
#   - a repeatable file creates them with CREATE OR REPLACE (scripts/migrate.sh applies it again
#     whenever it changes);
#   - each function name is created in one file of the side, once: one current body;
#   - the pgTAP tests mirror the repeatable files: db/tests/SIDE/NN_role/ for each
#     SIDE/functions/NN_role.sql, and no test folder without its file (besides 00_schema/).
# One test per file and one per side; prints a line per failure and, last, "N passed, M failed".
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

pass=0 fail=0
# creates FILE: "KIND NAME OR_REPLACE" per CREATE [OR REPLACE] FUNCTION|PROCEDURE|TRIGGER of FILE,
# comments left out
creates() {
    sed -e 's/--.*$//' "$1" | tr '\n' ' ' |
        grep -oiE 'create[[:space:]]+(or[[:space:]]+replace[[:space:]]+)?(constraint[[:space:]]+)?(function|procedure|trigger)[[:space:]]+[a-z_][a-z0-9_.]*' |
        awk '{ r = (tolower($2) == "or") ? "replace" : "plain"; print tolower($(NF - 1)), tolower($NF), r }' ||
        true # no match: nothing to print
}

result() { # result OK MESSAGE
    if (($1)); then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
        echo "sql-by-role: $2"
    fi
}

for side in write read; do
    dir="migrations/$side"
    [[ -d "$dir" ]] || continue
    for f in "$dir"/*.sql; do
        found="$(creates "$f")"
        result "$([[ -z "$found" ]] && echo 1 || echo 0)" \
            "$f is a versioned migration but creates $(tr '\n' ',' <<<"$found" | sed 's/,$//'); move it to $dir/functions/"
    done
    all=""
    for f in "$dir"/functions/*.sql; do
        [[ -e "$f" ]] || continue
        found="$(creates "$f")"
        plain="$(awk '$3 == "plain" { print $1 " " $2 }' <<<"$found")"
        result "$([[ -z "$plain" ]] && echo 1 || echo 0)" \
            "$f is repeatable but creates without OR REPLACE: $(tr '\n' ',' <<<"$plain" | sed 's/,$//')"
        all+="$(awk -v f="$f" '$1 != "trigger" { print $2, f }' <<<"$found")"$'\n'
    done
    for f in "$dir"/functions/*.sql; do
        [[ -e "$f" ]] || continue
        t="db/tests/$side/$(basename "$f" .sql)"
        result "$(compgen -G "$t/*.sql" >/dev/null && echo 1 || echo 0)" \
            "$f has no pgTAP tests in $t/ (the tests mirror the repeatable files)"
    done
    for t in db/tests/"$side"/*/; do
        t="${t%/}"
        [[ -d "$t" && "${t##*/}" != 00_schema ]] || continue
        result "$([[ -f "$dir/functions/${t##*/}.sql" ]] && echo 1 || echo 0)" \
            "$t/ mirrors no repeatable file ($dir/functions/${t##*/}.sql does not exist)"
    done
    dups="$(awk 'NF { n[$1]++; where[$1] = where[$1] " " $2 } END { for (k in n) if (n[k] > 1) print k ":" where[k] }' <<<"$all" | sort)"
    result "$([[ -z "$dups" ]] && echo 1 || echo 0)" \
        "$side: functions created more than once (one current body each): $(tr '\n' ';' <<<"$dups")"
done

echo "sql-by-role: $pass passed, $fail failed"
((fail == 0))
