#!/usr/bin/env bash
# Applies migrations/write/*.sql to DATABASE_URL and migrations/read/*.sql to READ_DATABASE_URL,
# in file-name order. Each file runs in one transaction together with its row in
# schema_migrations(version, checksum, applied_at). A file already applied with the same sha256
# is skipped; a changed file fails the run (migrations are forward-only). Safe to run twice.
set -euo pipefail

# shellcheck source=scripts/env.sh disable=SC1091
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

export PGCONNECT_TIMEOUT="${PGCONNECT_TIMEOUT:-10}"
applied=0
skipped=0

# shellcheck source=scripts/lib.sh
source "$REPO_ROOT/scripts/lib.sh" # die

# run_psql URL ARGS...: psql without ~/.psqlrc, quiet, stopping at the first error.
run_psql() {
    local url="$1"
    shift
    psql -X -q -v ON_ERROR_STOP=1 -d "$url" "$@"
}

# migrate NAME URL DIR: apply every new DIR/*.sql to the database at URL.
migrate() {
    local name="$1" url="$2" dir="$3" file version checksum recorded
    [[ -n "$url" ]] || die "$name: no database URL set"
    local -a files=()
    shopt -s nullglob
    files=("$dir"/*.sql)
    shopt -u nullglob
    ((${#files[@]} > 0)) || return 0

    run_psql "$url" -c "SET client_min_messages = warning" -c "
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    text PRIMARY KEY,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )" || die "$name: could not connect or create schema_migrations"

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
    done
}

migrate write "${DATABASE_URL:-}" "$REPO_ROOT/migrations/write"
migrate read "${READ_DATABASE_URL:-}" "$REPO_ROOT/migrations/read"
echo "migrate.sh: $applied applied, $skipped already applied"
