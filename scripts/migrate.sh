#!/usr/bin/env bash
# migrate.sh [write|read]...: applies migrations/write to DATABASE_URL and migrations/read to
# READ_DATABASE_URL (both when no side is named). scripts/rebuild.sh runs it for the read side of
# its fresh database. Per side, two kinds of files (docs/architecture.md, "SQL by role"):
# - versioned, SIDE/NNNN_*.sql: tables, indexes, types, constraints and data changes, applied
#   once, in file-name order. Each file runs in one transaction together with its row in
#   schema_migrations(version, checksum, applied_at). A file already applied with the same sha256
#   is skipped; a changed file fails the run (migrations are forward-only), except a file
#   rewritten when its functions moved to SIDE/functions/: its old sha256, listed in
#   SIDE/rewritten.sha256 ("<version> <sha256>"), is accepted and replaced by the new one.
# - repeatable, SIDE/functions/*.sql: every function and trigger, one current body each, applied
#   again whenever the file's sha256 differs from its row in schema_repeatables(name, checksum,
#   applied_at). The changed files run in file-name order in ONE transaction, with
#   check_function_bodies off, followed by grant_service_roles() (new functions and tables get
#   their privileges, and the entry points their SECURITY DEFINER), which also runs after a run
#   that applied only versioned files.
# Safe to run twice.
set -euo pipefail

# shellcheck source=scripts/env.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}"
applied=0
skipped=0
rewritten=0
side_applied=0

# shellcheck source=scripts/lib.sh
source "$REPO_ROOT/scripts/lib.sh" # die

# run_psql URL ARGS...: psql without ~/.psqlrc, quiet, stopping at the first error.
run_psql() {
    local url="$1"
    shift
    psql -X -q -v ON_ERROR_STOP=1 -d "$url" "$@"
}

# accept_rewritten NAME URL DIR VERSION RECORDED CHECKSUM: when DIR/rewritten.sha256 lists
# VERSION with the RECORDED sha256 (the file before its functions moved to DIR/functions/),
# records the file's new CHECKSUM and returns 0; returns 1 otherwise.
accept_rewritten() {
    local name="$1" url="$2" dir="$3" version="$4" recorded="$5" checksum="$6"
    [[ -f "$dir/rewritten.sha256" ]] || return 1
    grep -qxF "$version $recorded" "$dir/rewritten.sha256" || return 1
    run_psql "$url" -v version="$version" -v checksum="$checksum" \
        <<<"UPDATE schema_migrations SET checksum = :'checksum' WHERE version = :'version'" ||
        die "$name: could not record the new checksum of $version.sql"
    echo "migrate.sh: $name/$version.sql was rewritten when its functions moved to" \
        "$name/functions/ (old sha256 in $name/rewritten.sha256): recorded its new checksum"
    rewritten=$((rewritten + 1))
}

# migrate_versioned NAME URL DIR: apply every new DIR/NNNN_*.sql to the database at URL; adds to
# applied, skipped and side_applied.
migrate_versioned() {
    local name="$1" url="$2" dir="$3" file version checksum recorded
    local -a files=()
    shopt -s nullglob
    files=("$dir"/*.sql)
    shopt -u nullglob

    for file in "${files[@]}"; do
        version="$(basename "$file" .sql)"
        [[ "$version" =~ ^[A-Za-z0-9_.-]+$ ]] || die "$name: bad migration file name: $file"
        checksum="$(sha256sum "$file" | cut -d' ' -f1)"
        recorded="$(run_psql "$url" -A -t -v version="$version" \
            <<<"SELECT checksum FROM schema_migrations WHERE version = :'version'")"
        if [[ "$recorded" == "$checksum" ]]; then
            skipped=$((skipped + 1))
            continue
        fi
        if [[ -n "$recorded" ]]; then
            accept_rewritten "$name" "$url" "$dir" "$version" "$recorded" "$checksum" && continue
            die "$name/$version.sql was changed after it was applied (sha256 $recorded in the" \
                "database, $checksum on disk); migrations are forward-only: add a new file"
        fi
        # One transaction: the file and its schema_migrations row commit together or not at all.
        # psql runs in the folder so that \i gets a plain relative name.
        if ! (cd "$dir" && run_psql "$url" -v version="$version" -v checksum="$checksum" \
            -v file="$version.sql") <<'SQL'
BEGIN;
\i :file
INSERT INTO schema_migrations (version, checksum) VALUES (:'version', :'checksum');
COMMIT;
SQL
        then
            die "$name/$version.sql failed; nothing of it was applied"
        fi
        echo "migrate.sh: applied $name/$version.sql"
        applied=$((applied + 1))
        side_applied=$((side_applied + 1))
    done
}

# migrate_repeatable NAME URL DIR: apply, in one transaction, every DIR/functions/*.sql whose
# sha256 differs from its schema_repeatables row, then grant_service_roles(); the grants run also
# when side_applied says that versioned files were applied. Adds to applied and skipped.
migrate_repeatable() {
    local name="$1" url="$2" dir="$3" file base checksum recorded script
    local -a files=() changed=()
    shopt -s nullglob
    files=("$dir"/functions/*.sql)
    shopt -u nullglob
    script="BEGIN;"$'\n'"SET LOCAL check_function_bodies = off;"$'\n'
    for file in "${files[@]}"; do
        base="$(basename "$file" .sql)"
        [[ "$base" =~ ^[A-Za-z0-9_.-]+$ ]] || die "$name: bad repeatable file name: $file"
        checksum="$(sha256sum "$file" | cut -d' ' -f1)"
        recorded="$(run_psql "$url" -A -t -v name="$base" \
            <<<"SELECT checksum FROM schema_repeatables WHERE name = :'name'")"
        if [[ "$recorded" == "$checksum" ]]; then
            skipped=$((skipped + 1))
            continue
        fi
        changed+=("$base")
        script+="\\i functions/$base.sql"$'\n'
        script+="INSERT INTO schema_repeatables (name, checksum) VALUES ('$base', '$checksum')"
        script+=" ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now();"$'\n'
    done
    ((${#changed[@]} + side_applied > 0)) || return 0
    script+="DO \$\$ BEGIN IF to_regproc('grant_service_roles') IS NOT NULL THEN"
    script+=" PERFORM grant_service_roles(); END IF; END \$\$;"$'\n'"COMMIT;"$'\n'
    if ! (cd "$dir" && run_psql "$url") <<<"$script"; then
        die "$name: the repeatable files (${changed[*]:-none}) or grant_service_roles() failed;" \
            "nothing of them was applied"
    fi
    for base in "${changed[@]}"; do
        echo "migrate.sh: applied $name/functions/$base.sql"
    done
    applied=$((applied + ${#changed[@]}))
}

# migrate NAME URL DIR: the versioned files of DIR, then its repeatable ones.
migrate() {
    local name="$1" url="$2" dir="$3"
    side_applied=0
    [[ -n "$url" ]] || die "$name: no database URL set"
    run_psql "$url" -c "SET client_min_messages = warning" -c "
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    text PRIMARY KEY,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )" -c "
        CREATE TABLE IF NOT EXISTS schema_repeatables (
            name       text PRIMARY KEY,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )" || die "$name: could not connect or create schema_migrations"
    migrate_versioned "$name" "$url" "$dir"
    migrate_repeatable "$name" "$url" "$dir"
}

sides=("$@")
((${#sides[@]} > 0)) || sides=(write read)
for side in "${sides[@]}"; do
    case "$side" in
        write) migrate write "${DATABASE_URL:-}" "$REPO_ROOT/migrations/write" ;;
        read) migrate read "${READ_DATABASE_URL:-}" "$REPO_ROOT/migrations/read" ;;
        *) die "usage: $0 [write|read]..." ;;
    esac
done
extra=""
((rewritten == 0)) || extra=", $rewritten rewritten files accepted"
echo "migrate.sh: $applied applied, $skipped already applied$extra"
