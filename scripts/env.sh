# shellcheck shell=bash
# Sourced, not executed: loads the project's settings into the environment.
# Precedence: variables already set by the caller > .env > .env.example.
# Sets REPO_ROOT and makes a relative STATE_DIR absolute (relative to REPO_ROOT).

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export REPO_ROOT

# env_load FILE: export each KEY=VALUE line of FILE whose KEY is not set yet.
# Blank lines and # comments are skipped; one pair of surrounding quotes is removed.
# Values are taken literally (no expansion, no command substitution).
env_load() {
    local file="$1" line key value
    [[ -f "$file" ]] || return 0
    while IFS= read -r line || [[ -n "$line" ]]; do
        line="${line%$'\r'}"
        [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
        line="${line#"${line%%[![:space:]]*}"}"
        line="${line#export }"
        if [[ ! "$line" =~ ^([A-Za-z_][A-Za-z0-9_]*)=(.*)$ ]]; then
            echo "env.sh: ignoring malformed line in $file: $line" >&2
            continue
        fi
        key="${BASH_REMATCH[1]}"
        value="${BASH_REMATCH[2]}"
        if [[ "$value" =~ ^\"(.*)\"$ || "$value" =~ ^\'(.*)\'$ ]]; then
            value="${BASH_REMATCH[1]}"
        fi
        if [[ -z "${!key+set}" ]]; then
            printf -v "$key" '%s' "$value"
        fi
        # shellcheck disable=SC2163 # exporting the variable named by $key
        export "$key"
    done <"$file"
}

# .env first, then .env.example: the first file that sets a name wins, the caller beats both.
env_load "$REPO_ROOT/.env"
env_load "$REPO_ROOT/.env.example"
unset -f env_load

: "${STATE_DIR:=.state/dev}"
if [[ "$STATE_DIR" != /* ]]; then
    STATE_DIR="$REPO_ROOT/$STATE_DIR"
fi
export STATE_DIR
