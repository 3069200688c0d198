#!/usr/bin/env bash
# sql-equivalence.sh OLD_REF: proves that the SQL filed by role (migrations/SIDE/NNNN_*.sql plus
# migrations/SIDE/functions/*.sql, scripts/migrate.sh) builds the same schema as the migrations
# of git revision OLD_REF (for example 1629f5a, the last one before the move), on both sides:
#   old  fresh databases migrated by OLD_REF's scripts/migrate.sh and migrations/
#   new  fresh databases migrated by this tree's
#   up   databases migrated by OLD_REF, then by this tree (the upgrade of an existing stack)
# and compares old with new and old with up: `pg_dump -s` and a catalog listing (functions with
# their source, settings, volatility, security and ACL; relations with their ACL; columns,
# constraints, indexes, triggers, default privileges), leaving out the bookkeeping tables
# schema_migrations and schema_repeatables, and the bodies of the functions named in
# EXPECT_CHANGED (space-separated: those changed on purpose with the move, for example
# grant_service_roles). Prints the differences; exit 0 when there are none.
# Needs a running PostgreSQL whose DATABASE_URL user may create databases, or the local
# cluster's superuser socket of scripts/pg.sh ($STATE_DIR/pg/run). A one-off check (it needs the
# old revision), not part of make test.
set -euo pipefail

# shellcheck source=scripts/env.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/env.sh"

die() {
    echo "sql-equivalence.sh: $*" >&2
    exit 2
}

old_ref="${1:-}"
[[ -n "$old_ref" ]] || die "usage: $0 OLD_REF"
git -C "$REPO_ROOT" rev-parse --verify -q "$old_ref^{commit}" >/dev/null || die "no commit $old_ref"
[[ -n "${DATABASE_URL:-}" ]] || die "DATABASE_URL must be set"
url_re='^(postgres(ql)?://([^:@/]+)[^/]*/)([^?]+)(\?.*)?$'
[[ "$DATABASE_URL" =~ $url_re ]] || die "cannot parse DATABASE_URL"
url_base="${BASH_REMATCH[1]}" owner="${BASH_REMATCH[3]}" url_query="${BASH_REMATCH[5]}"

admin() {
    if psql -X -q -v ON_ERROR_STOP=1 -d "${url_base}postgres$url_query" -c "$1" 2>/dev/null; then
        return 0
    fi
    local sock="$STATE_DIR/pg/run"
    [[ -S "$sock/.s.PGSQL.${PG_PORT:-5432}" ]] || die "could not run '$1' (needs CREATEDB)"
    psql -X -q -v ON_ERROR_STOP=1 -h "$sock" -p "$PG_PORT" -U postgres -d postgres -c "$1" >/dev/null
}

tmp="$(mktemp -d)"
dbs=()
# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    local db
    for db in "${dbs[@]}"; do admin "DROP DATABASE IF EXISTS \"$db\"" || true; done
    rm -rf "$tmp"
}
trap cleanup EXIT

mkdir -p "$tmp/old"
git -C "$REPO_ROOT" archive "$old_ref" migrations scripts/env.sh scripts/migrate.sh | tar -x -C "$tmp/old"

# make_db NAME: a fresh database NAME owned by DATABASE_URL's user
make_db() {
    dbs+=("$1")
    admin "DROP DATABASE IF EXISTS \"$1\""
    admin "CREATE DATABASE \"$1\" OWNER \"$owner\""
}

# run_migrate ROOT KIND: ROOT's scripts/migrate.sh on the databases eq_KIND_write, eq_KIND_read
run_migrate() {
    DATABASE_URL="${url_base}eq_$2_write$url_query" READ_DATABASE_URL="${url_base}eq_$2_read$url_query" \
        "$1/scripts/migrate.sh" >"$tmp/$2.$(basename "$1").log" 2>&1 ||
        die "$1/scripts/migrate.sh failed on eq_$2: $(tail -n 3 "$tmp/$2.$(basename "$1").log")"
}

for kind in old new up; do
    make_db "eq_${kind}_write"
    make_db "eq_${kind}_read"
done
run_migrate "$tmp/old" old
run_migrate "$REPO_ROOT" new
run_migrate "$tmp/old" up
run_migrate "$REPO_ROOT" up
n="$(grep -c 'was rewritten' "$tmp/up.$(basename "$REPO_ROOT").log" || true)"
((n > 0)) || die "the upgrade accepted no rewritten file"
echo "sql-equivalence.sh: the upgrade accepted $n rewritten files: $(tail -n 1 "$tmp/up.$(basename "$REPO_ROOT").log")"

# describe DB: the schema of DB as sorted text lines
describe() {
    local url="${url_base}$1$url_query"
    # the order of a function's SET lines (proconfig) carries no meaning: sorted; the bodies of
    # the functions named in EXPECT_CHANGED are left out (their catalog row says they differ)
    pg_dump -s -x -O -T schema_migrations -T schema_repeatables -d "$url" |
        grep -v '^\\\(un\)\?restrict ' |
        awk -v skip=" ${EXPECT_CHANGED:-} " '
            function flush() { if (n) { cmd = "sort"; for (i = 1; i <= n; i++) print set[i] | cmd; close(cmd); n = 0 } }
            /^CREATE FUNCTION public\./ { name = $3; sub(/^public\./, "", name); sub(/\(.*/, "", name)
                                           if (index(skip, " " name " ")) { hide = 1; print "(body of " name " left out)"; next } }
            hide { if ($0 ~ /^\$\$;$/ || $0 ~ /^END \$\$;$/ || $0 ~ /\$\$;$/) hide = 0; next }
            /^    SET / { set[++n] = $0; next }
            { flush(); print }
            END { flush() }' |
        sed 's/^/dump: /'
    psql -X -q -A -t -F ' | ' -v ON_ERROR_STOP=1 -d "$url" -v skip="${EXPECT_CHANGED:-}" <<'SQL' | sort
WITH own_proc AS (
    SELECT p.* FROM pg_proc p
    WHERE p.pronamespace = 'public'::regnamespace
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass
                      AND d.objid = p.oid AND d.deptype = 'e'))
SELECT 'function', proname::text, pg_get_function_identity_arguments(oid), prorettype::regtype::text,
       prolang::text, provolatile::text, prosecdef::text, proparallel::text, proisstrict::text,
       proleakproof::text, procost::text, prorows::text,
       (SELECT array_agg(c ORDER BY c) FROM unnest(proconfig) c)::text,
       (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(proacl) a)::text,
       CASE WHEN proname = ANY (string_to_array(:'skip', ' ')) THEN 'body expected to change'
            ELSE md5(prosrc) END
FROM own_proc
UNION ALL
SELECT 'relation', relname, relkind::text, relpersistence::text, reloptions::text,
       (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(relacl) a)::text,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM pg_class WHERE relnamespace = 'public'::regnamespace
  AND relname NOT LIKE 'schema\_migrations%' AND relname NOT LIKE 'schema\_repeatables%'
UNION ALL
SELECT 'column', c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull::text,
       pg_get_expr(d.adbin, d.adrelid), a.attgenerated::text,
       (SELECT array_agg(x::text ORDER BY x::text) FROM unnest(a.attacl) x)::text,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  AND c.relname NOT LIKE 'schema\_%'
UNION ALL
SELECT 'constraint', conrelid::regclass::text, conname, pg_get_constraintdef(oid),
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM pg_constraint WHERE connamespace = 'public'::regnamespace
  AND conrelid::regclass::text NOT LIKE 'schema\_%'
UNION ALL
SELECT 'index', indrelid::regclass::text, pg_get_indexdef(indexrelid),
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM pg_index WHERE indrelid::regclass::text NOT LIKE 'schema\_%'
  AND indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace)
UNION ALL
SELECT 'trigger', tgrelid::regclass::text, pg_get_triggerdef(oid), tgenabled::text,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM pg_trigger WHERE NOT tgisinternal
UNION ALL
SELECT 'default acl', defaclobjtype::text,
       (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(defaclacl) a)::text,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM pg_default_acl
UNION ALL
SELECT 'database acl', NULL,
       (SELECT array_agg(a::text ORDER BY a::text) FROM unnest(datacl) a)::text,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM pg_database WHERE datname = current_database()
SQL
}

status=0
for side in write read; do
    for kind in old new up; do
        describe "eq_${kind}_$side" >"$tmp/$kind.$side"
    done
    for kind in new up; do
        if diff -u "$tmp/old.$side" "$tmp/$kind.$side" >"$tmp/diff"; then
            echo "sql-equivalence.sh: $side: old == $kind ($(wc -l <"$tmp/old.$side") lines of schema)"
        else
            status=1
            echo "sql-equivalence.sh: $side: old != $kind:"
            head -n 80 "$tmp/diff"
        fi
    done
done
exit "$status"
