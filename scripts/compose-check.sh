#!/usr/bin/env bash
# shellcheck disable=SC2016 # jq programs and ${VAR} patterns are single-quoted on purpose
# compose-check.sh (`make compose-check`): validates docker-compose.yml without a Docker engine.
#
#  1. `docker-compose --env-file .env.example -f docker-compose.yml config -q` accepts the file
#     (Debian's docker-compose v1; `docker compose` v2 if v1 is missing).
#  2. Every build context, Dockerfile, and COPY source of those Dockerfiles exists (and is not
#     left out by .dockerignore); every relative bind-mount source exists.
#  3. Variables. The variables each service reads are what its binary's `--help` lists (every
#     configuration table it loads, lib/service/cli.h), plus any getenv("NAME") in its folder;
#     the binaries are taken from COMPOSE_CHECK_BIN (default build/bin) and built there if
#     missing. The rule, defaults in the C tables notwithstanding (FAULT_*, the fault-injection hooks of
#     the tests, are exempt: they default to off and stay out of .env.example and compose):
#     - each of them has a NAME= line in .env.example (the file documents every setting);
#     - each of them is set in the compose `environment` of every service that reads it, to the
#       same value with and without an env file: so a ${NAME:-default} in compose has
#       .env.example's value as its default, and `docker compose up` without a .env runs what
#       .env.example describes. Empty only where .env.example's value is empty too;
#     - every ${NAME} used in docker-compose.yml has a NAME= line in .env.example;
#     - the database URLs and BROKER_URL point at the compose services, with the role, password,
#       database and vhost those services create (the owner for DATABASE_URL, READ_DATABASE_URL
#       and CONSUMER_DATABASE_URL; cqrs_command, cqrs_relay, cqrs_query for COMMAND_,
#       RELAY_ and QUERY_DATABASE_URL); the APIs bind 0.0.0.0.
#  4. Ports: submission.json's URLs, .env.example's COMMAND_SERVICE_PORT / QUERY_SERVICE_PORT,
#     and each API's published port, container port and *_SERVICE_PORT agree; so do the base
#     URLs of postman/environment.json.
#  5. The seeds (docs/seeds.md): `config --services` lists the e-commerce analytics seed's names
#     (command-service, query-service, consumer-service, db, broker); 5001 is the command API's
#     port; the gateway is nginx from its official image at a pinned version, with
#     docker/gateway's template mounted at /etc/nginx/templates, its variables set to the two
#     APIs and the listeners 8000 and 5002, which it publishes; the broker publishes AMQP and the
#     management UI on 127.0.0.1 only, with RABBITMQ_DEFAULT_USER / _PASS from .env; the
#     command API always has a token (it listens beyond loopback).
#     The cluster profile's db-replica streams from db, and the query API reads it when
#     QUERY_DB_HOST=db-replica (docs/scaling.md#read-replica).
#
# Compose runs with a clean environment (PATH and HOME only), so exported variables such as the
# test driver's random ports cannot hide a mismatch. Prints one line per check, then
# "N passed, M failed"; exits 1 if a check failed.
set -uo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT" || exit 1

COMPOSE_FILE=docker-compose.yml
ENV_EXAMPLE=.env.example
SUBMISSION=submission.json
POSTMAN_ENV=postman/environment.json

# Service name in compose -> folder of its C code.
declare -A SERVICE_DIR=([command-service]=api/command [query-service]=api/query
    [relay-service]=relay [consumer-service]=consumer)
# API service -> the variable holding its port, and submission.json's key for its URL.
declare -A PORT_VAR=([command-service]=COMMAND_SERVICE_PORT [query-service]=QUERY_SERVICE_PORT)
declare -A URL_KEY=([command-service]=commandServiceUrl [query-service]=queryServiceUrl)
# URL variable -> "service:role:password variable:database variable" of what it must name,
# the values read from that compose service's environment (role "-" = CQRS_DB_USER, the owner).
declare -A URL_TARGET=(
    [DATABASE_URL]=db:-:CQRS_DB_PASSWORD:CQRS_WRITE_DB
    [READ_DATABASE_URL]=db:-:CQRS_DB_PASSWORD:CQRS_READ_DB
    [CONSUMER_DATABASE_URL]=db:-:CQRS_DB_PASSWORD:CQRS_READ_DB
    [COMMAND_DATABASE_URL]=db:cqrs_command:CQRS_COMMAND_DB_PASSWORD:CQRS_WRITE_DB
    [RELAY_DATABASE_URL]=db:cqrs_relay:CQRS_RELAY_DB_PASSWORD:CQRS_WRITE_DB
    [QUERY_DATABASE_URL]=db:cqrs_query:CQRS_QUERY_DB_PASSWORD:CQRS_READ_DB
    [QUERY_LISTEN_DATABASE_URL]=db:cqrs_query:CQRS_QUERY_DB_PASSWORD:CQRS_READ_DB
    [BROKER_URL]=broker:RABBITMQ_DEFAULT_USER:RABBITMQ_DEFAULT_PASS:RABBITMQ_DEFAULT_VHOST
)
# Variables the check leaves alone (fault injection for the tests).
EXEMPT_RE='^FAULT_'

passed=0
failed=0
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

pass() {
    passed=$((passed + 1))
    echo "ok   $*"
}

fail() {
    failed=$((failed + 1))
    echo "FAIL $*"
}

# check DESCRIPTION PROBLEM...: passes when no PROBLEM is given, else fails listing them.
check() {
    local what="$1"
    shift
    if (($# == 0)); then
        pass "$what"
    else
        fail "$what:"
        printf '       - %s\n' "$@"
    fi
}

finish() {
    echo
    echo "$passed passed, $failed failed"
    ((failed == 0))
    exit
}

# --- 1. compose accepts the file --------------------------------------------------------------
compose=()
if command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
fi
if ((${#compose[@]} == 0)); then
    fail "docker-compose (or docker compose) is not installed (Debian: apt-get install docker-compose)"
    finish
fi
for f in "$COMPOSE_FILE" "$ENV_EXAMPLE" "$SUBMISSION"; do
    [[ -f "$f" ]] || fail "$f is missing"
done
((failed == 0)) || finish

# run_compose ENV_FILE ARGS...: compose in a clean environment, project folder = REPO_ROOT.
run_compose() {
    local env_file="$1"
    shift
    env -i PATH="$PATH" HOME="${HOME:-/root}" \
        "${compose[@]}" --env-file "$env_file" -f "$COMPOSE_FILE" --project-directory "$REPO_ROOT" "$@"
}

if out="$(run_compose "$ENV_EXAMPLE" config -q 2>&1)"; then
    pass "${compose[*]} --env-file $ENV_EXAMPLE -f $COMPOSE_FILE config -q"
else
    fail "${compose[*]} --env-file $ENV_EXAMPLE -f $COMPOSE_FILE config -q:"
    printf '       %s\n' "$out"
    finish
fi

# The resolved configuration as JSON, with .env.example and with an empty env file (so that
# only compose's own defaults apply).
to_json() {
    "${COMPOSE_PYTHON:-/usr/bin/python3}" -c 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'
}
: >"$TMP/empty.env"
if ! run_compose "$ENV_EXAMPLE" config 2>"$TMP/err" | to_json >"$TMP/with-env.json" ||
    ! run_compose "$TMP/empty.env" config 2>>"$TMP/err" | to_json >"$TMP/no-env.json"; then
    fail "could not resolve $COMPOSE_FILE to JSON (needs /usr/bin/python3 with PyYAML: Debian python3-yaml, scripts/deps.sh):"
    sed 's/^/       /' "$TMP/err"
    finish
fi
cfg() { jq -r "$@" "$TMP/with-env.json"; }
cfg_default() { jq -r "$@" "$TMP/no-env.json"; }

mapfile -t services < <(cfg '.services | keys[]')

# --- 2. build contexts, Dockerfiles, COPY sources, bind mounts -----------------------------------
# dockerignored CONTEXT PATH: true if .dockerignore in CONTEXT leaves out PATH (or a parent).
# Understands the plain patterns this repository uses (names, dir/name, **/name, *.ext).
dockerignored() {
    local ctx="$1" path="$2" pat prefix
    [[ -f "$ctx/.dockerignore" ]] || return 1
    while IFS= read -r pat || [[ -n "$pat" ]]; do
        pat="${pat%%#*}"
        pat="${pat%"${pat##*[![:space:]]}"}"
        [[ -z "$pat" || "$pat" == !* ]] && continue
        pat="${pat#/}"
        prefix="$path"
        while :; do
            # shellcheck disable=SC2053 # the pattern is meant to glob
            if [[ "$prefix" == $pat || ("$pat" == '**/'* && ("$prefix" == ${pat#'**/'} ||
                "$prefix" == */${pat#'**/'})) ]]; then
                return 0
            fi
            [[ "$prefix" == */* ]] || break
            prefix="${prefix%/*}"
        done
    done <"$ctx/.dockerignore"
    return 1
}

# copy_sources DOCKERFILE: prints the source paths of its COPY/ADD lines without --from.
copy_sources() {
    sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$1" | awk '
        toupper($1) == "COPY" || toupper($1) == "ADD" {
            n = 0; from = 0
            for (i = 2; i <= NF; i++) {
                if ($i ~ /^--from=/) from = 1
                else if ($i !~ /^--/) args[++n] = $i
            }
            if (!from) for (i = 1; i < n; i++) print args[i]
        }'
}

for svc in "${services[@]}"; do
    ctx="$(cfg --arg s "$svc" '.services[$s].build.context // empty')"
    [[ -n "$ctx" ]] || continue
    problems=()
    dockerfile="$(cfg --arg s "$svc" '.services[$s].build.dockerfile // "Dockerfile"')"
    [[ "$dockerfile" == /* ]] || dockerfile="$ctx/$dockerfile"
    if [[ ! -d "$ctx" ]]; then
        problems+=("build context $ctx does not exist")
    elif [[ ! -f "$dockerfile" ]]; then
        problems+=("Dockerfile ${dockerfile#"$REPO_ROOT"/} does not exist")
    else
        while IFS= read -r src; do
            src="${src#./}"
            src="${src%/}"
            if ! compgen -G "$ctx/$src" >/dev/null; then
                problems+=("${dockerfile#"$REPO_ROOT"/}: COPY source $src does not exist in the context")
            elif dockerignored "$ctx" "$src"; then
                problems+=("${dockerfile#"$REPO_ROOT"/}: COPY source $src is excluded by .dockerignore")
            fi
        done < <(copy_sources "$dockerfile")
    fi
    check "$svc: build context, Dockerfile and COPY sources exist" "${problems[@]}"
done

problems=()
while IFS=$'\t' read -r svc src; do
    [[ -e "$src" ]] || problems+=("$svc: bind-mount source ${src#"$REPO_ROOT"/} does not exist")
done < <(cfg '.services | to_entries[] | .key as $s | (.value.volumes // [])[] |
    if type == "string" then split(":")[0] else (select(.type == "bind") | .source) end |
    select(startswith("/")) | [$s, .] | @tsv')
check "bind-mount sources exist" "${problems[@]}"

# --- 3. variables -----------------------------------------------------------------------------
# env_example_has NAME: .env.example has an uncommented NAME= line.
env_example_has() {
    grep -qE "^[[:space:]]*(export[[:space:]]+)?$1=" "$ENV_EXAMPLE"
}
env_example_value() {
    sed -nE "s/^[[:space:]]*(export[[:space:]]+)?$1=//p" "$ENV_EXAMPLE" | tail -n 1 |
        sed -E 's/^"(.*)"$/\1/; s/^'\''(.*)'\''$/\1/'
}

# The binary of each compose service, whose --help lists the variables it reads.
declare -A SERVICE_BIN=([command-service]=command-api [query-service]=query-api
    [relay-service]=relay [consumer-service]=consumer)
BIN_DIR="${COMPOSE_CHECK_BIN:-build/bin}"
missing=()
for b in "${SERVICE_BIN[@]}"; do [[ -x "$BIN_DIR/$b" ]] || missing+=("$BIN_DIR/$b"); done
if ((${#missing[@]} > 0)); then
    make -s --no-print-directory BUILD="${BIN_DIR%/bin}" "${missing[@]}" >&2 ||
        echo "compose-check: could not build ${missing[*]}" >&2
fi

# help_vars BIN: the variable names the binary's --help lists ("  NAME=default" lines).
help_vars() {
    "$1" --help 2>/dev/null | sed -nE 's/^[[:space:]]+([A-Z][A-Z0-9_]*)=.*/\1/p'
}
# getenv_vars FILE...: the names read with getenv("NAME") outside the configuration tables.
getenv_vars() {
    grep -hoE 'getenv\("[A-Z][A-Z0-9_]*"\)' "$@" 2>/dev/null | grep -oE '"[A-Z][A-Z0-9_]*"' |
        tr -d '"'
}

declare -A SERVICE_VARS=()
all_vars=()
for svc in "${!SERVICE_DIR[@]}"; do
    vars="$({
        help_vars "$BIN_DIR/${SERVICE_BIN[$svc]}"
        getenv_vars "${SERVICE_DIR[$svc]}"/*.c
    } | sort -u | grep -vE "$EXEMPT_RE" | tr '\n' ' ')"
    SERVICE_VARS[$svc]="$vars"
    # shellcheck disable=SC2206 # word splitting of the name list is intended
    all_vars+=($vars)
done
mapfile -t all_vars < <(printf '%s\n' "${all_vars[@]}" | sort -u)

for svc in $(printf '%s\n' "${!SERVICE_DIR[@]}" | sort); do
    n=$(wc -w <<<"${SERVICE_VARS[$svc]}")
    if ((n < 2)); then
        fail "$svc: found only $n variables in $BIN_DIR/${SERVICE_BIN[$svc]} --help; has its form changed?"
    else
        pass "$svc reads $n variables: ${SERVICE_VARS[$svc]% }"
    fi
done

problems=()
for v in "${all_vars[@]}"; do
    env_example_has "$v" || problems+=("$v is read by the services but has no $v= line in $ENV_EXAMPLE")
done
check "every variable the services read is in $ENV_EXAMPLE" "${problems[@]}"

for svc in $(printf '%s\n' "${!SERVICE_DIR[@]}" | sort); do
    problems=()
    if ! cfg -e --arg s "$svc" '.services | has($s)' >/dev/null; then
        fail "$svc: no such service in $COMPOSE_FILE"
        continue
    fi
    for v in ${SERVICE_VARS[$svc]}; do
        # "<unset>" when the key is missing (or null), else its value as text
        get='.services[$s].environment | if has($v) and .[$v] != null then .[$v] | tostring else "<unset>" end'
        with="$(cfg --arg s "$svc" --arg v "$v" "$get")"
        without="$(cfg_default --arg s "$svc" --arg v "$v" "$get")"
        if [[ "$with" == "<unset>" ]]; then
            problems+=("$v is not set in its environment")
        elif [[ "$with" != "$without" ]]; then
            problems+=("$v is '$without' without an env file but '$with' with $ENV_EXAMPLE: make compose's default ($v:-...) $ENV_EXAMPLE's value")
        elif [[ -z "$with" && -n "$(env_example_value "$v")" ]]; then
            problems+=("$v is empty, but $ENV_EXAMPLE gives it a value")
        fi
    done
    check "$svc: every variable it reads is set in compose, with $ENV_EXAMPLE's default" "${problems[@]}"
done

problems=()
while IFS= read -r v; do
    env_example_has "$v" || problems+=("\${$v} is used in $COMPOSE_FILE but has no $v= line in $ENV_EXAMPLE")
done < <(grep -v '^[[:space:]]*#' "$COMPOSE_FILE" | sed 's/\$\$//g' |
    grep -oE '\$(\{[A-Za-z_][A-Za-z0-9_]*|[A-Za-z_][A-Za-z0-9_]*)' | tr -d '${' | sort -u)
check "every \${VAR} in $COMPOSE_FILE is in $ENV_EXAMPLE" "${problems[@]}"

# URLs: host = the compose service, credentials and database/vhost = what that service creates.
problems=()
svc_env() { cfg --arg s "$1" --arg v "$2" '.services[$s].environment[$v] // empty | tostring'; }
url_re='^([a-z]+)://([^:@/]+):([^@/]*)@([^:/]+):([0-9]+)/([^?]+)$'
declare -A SERVER_PORT=([db]=5432 [broker]=5672)
for svc in "${services[@]}"; do
    for v in $(printf '%s\n' "${!URL_TARGET[@]}" | sort); do
        urls="$(svc_env "$svc" "$v")"
        [[ -n "$urls" ]] || continue # unset, or empty: the service uses the owner's URL
        IFS=: read -r target role_var pass_var name_var <<<"${URL_TARGET[$v]}"
        # BROKER_URL lists the broker's nodes: broker, then the cluster profile's broker-N, each
        # a node of broker's cluster (its Erlang cookie, the formation config, docs/scaling.md)
        n=0
        while IFS= read -r url; do
            n=$((n + 1))
            ((n == 1)) || target="${URL_TARGET[$v]%%:*}-$n"
            # every node enables the consistent-hash exchange (CONSUMER_PARTITIONS > 1)
            [[ "$v" != BROKER_URL ]] ||
                [[ "$(cfg --arg s "$target" '[.services[$s].volumes[]? | tostring | test("docker/rabbitmq/enabled_plugins:/etc/rabbitmq/enabled_plugins")] | any')" == true &&
                    "$(grep -c rabbitmq_consistent_hash_exchange docker/rabbitmq/enabled_plugins)" == 1 ]] ||
                problems+=("$target: docker/rabbitmq/enabled_plugins (the consistent-hash exchange) is not mounted")
            if ((n > 1)); then
                [[ "$v" == BROKER_URL ]] ||
                    problems+=("$svc: $v lists more than one URL (only BROKER_URL may)")
                [[ "$(cfg --arg s "$target" '.services[$s].profiles // [] | index("cluster") != null')" == true ]] ||
                    problems+=("$svc: $v's node $n is not a service $target of the cluster profile")
                [[ "$(svc_env "$target" RABBITMQ_ERLANG_COOKIE)" == "$(svc_env broker RABBITMQ_ERLANG_COOKIE)" &&
                    -n "$(svc_env broker RABBITMQ_ERLANG_COOKIE)" ]] ||
                    problems+=("$target: RABBITMQ_ERLANG_COOKIE is not broker's (one cluster, one cookie)")
                [[ "$(cfg --arg s "$target" '[.services[$s].volumes[]? | tostring | test("cluster.conf")] | any')" == true ]] ||
                    problems+=("$target: docker/rabbitmq/cluster.conf (the cluster formation) is not mounted")
                SERVER_PORT[$target]=5672
                pass_var=RABBITMQ_DEFAULT_PASS role_var=RABBITMQ_DEFAULT_USER name_var=RABBITMQ_DEFAULT_VHOST
                # the vhost, user and password are the cluster's: broker's
                target_env=broker
            else
                target_env="$target"
            fi
            if [[ ! "$url" =~ $url_re ]]; then
                problems+=("$svc: $v is not of the form scheme://user:password@host:port/name")
                continue
            fi
            user="${BASH_REMATCH[2]}" pass="${BASH_REMATCH[3]}" host="${BASH_REMATCH[4]}"
            port="${BASH_REMATCH[5]}" name="${BASH_REMATCH[6]}"
            if [[ "$host" != "$target" ]]; then
                problems+=("$svc: $v points at host '$host', not at the $target service")
                continue
            fi
            case "$role_var" in
                -) want_user="$(svc_env "$target_env" CQRS_DB_USER)" role_what="CQRS_DB_USER" ;;
                [A-Z]*) want_user="$(svc_env "$target_env" "$role_var")" role_what="$role_var" ;;
                *) want_user="$role_var" role_what="the role the migrations grant to" ;;
            esac
            [[ "$port" == "${SERVER_PORT[$target]}" ]] ||
                problems+=("$svc: $v uses port $port, $target listens on ${SERVER_PORT[$target]}")
            [[ "$user" == "$want_user" ]] ||
                problems+=("$svc: $v's user is '$user', not '$want_user' ($target's $role_what)")
            [[ "$pass" == "$(svc_env "$target_env" "$pass_var")" ]] ||
                problems+=("$svc: $v's password is not the $target service's $pass_var")
            [[ "$name" == "$(svc_env "$target_env" "$name_var")" ]] ||
                problems+=("$svc: $v names '$name', not the $target service's $name_var ('$(svc_env "$target_env" "$name_var")')")
        done < <(tr ',' '\n' <<<"$urls")
    done
done
for svc in "${!PORT_VAR[@]}"; do
    bind="$(svc_env "$svc" HTTP_BIND_ADDRESS)"
    [[ "$bind" == 0.0.0.0 ]] ||
        problems+=("$svc: HTTP_BIND_ADDRESS is '$bind'; published ports need 0.0.0.0")
done
check "URLs match the db, broker and relay-service services; APIs bind 0.0.0.0" \
    "${problems[@]}"

# --- 4. ports ---------------------------------------------------------------------------------
# url_port URL: the port of an http URL (80 if none).
url_port() {
    local re='^https?://[^/:]+(:([0-9]+))?(/.*)?$'
    [[ "$1" =~ $re ]] || return 1
    echo "${BASH_REMATCH[2]:-80}"
}

# published_ports JSON SERVICE: one "host_ip|published|target" line per published port
# (host_ip empty for every interface), from compose's short or long syntax.
published_ports() {
    jq -r --arg s "$2" '.services[$s].ports // [] | .[] |
        if type == "string" then
            (sub("/tcp$"; "") | split(":") |
             if length == 3 then . elif length == 2 then [""] + . else ["", ""] + . end |
             "\(.[0])|\(.[1])|\(.[2])")
        else "\(.host_ip // "")|\(.published)|\(.target)" end' "$1"
}

# Besides submission.json's port, an API publishes the seeds' port of its side (docs/seeds.md);
# the query side's 5002 is the gateway's (section 5).
declare -A SEED_PORT=([command-service]=5001)

for svc in $(printf '%s\n' "${!PORT_VAR[@]}" | sort); do
    problems=()
    var="${PORT_VAR[$svc]}"
    url="$(jq -r --arg k "${URL_KEY[$svc]}" '.[$k] // empty' "$SUBMISSION")"
    want="$(url_port "$url")" || {
        fail "$svc: $SUBMISSION has no usable ${URL_KEY[$svc]} ('$url')"
        continue
    }
    example="$(env_example_value "$var")"
    [[ "$example" == "$want" ]] ||
        problems+=("$ENV_EXAMPLE has $var=$example, $SUBMISSION's ${URL_KEY[$svc]} uses port $want")
    for which in with no; do
        [[ "$which" == with ]] && json="$TMP/with-env.json" label="with $ENV_EXAMPLE"
        [[ "$which" == no ]] && json="$TMP/no-env.json" label="without an env file"
        mapfile -t ports < <(published_ports "$json" "$svc")
        inner="$(jq -r --arg s "$svc" --arg v "$var" '.services[$s].environment[$v] // empty | tostring' "$json")"
        expected=("$want")
        [[ -n "${SEED_PORT[$svc]:-}" ]] && expected+=("${SEED_PORT[$svc]}")
        if ((${#ports[@]} != ${#expected[@]})); then
            problems+=("$label: expected ${#expected[@]} published port(s) (${expected[*]}), found ${#ports[@]}")
            continue
        fi
        for i in "${!expected[@]}"; do
            IFS='|' read -r _ published target <<<"${ports[$i]}"
            [[ "$published" == "${expected[$i]}" ]] ||
                problems+=("$label: publishes port $published, expected ${expected[$i]} ($SUBMISSION, docs/seeds.md)")
            [[ "$target" == "$inner" ]] ||
                problems+=("$label: forwards $published to container port $target, but the service listens on $var=$inner")
        done
    done
    check "$svc: port $want in $SUBMISSION, $ENV_EXAMPLE and $COMPOSE_FILE${SEED_PORT[$svc]:+, and seed port ${SEED_PORT[$svc]}}" "${problems[@]}"
done

if [[ -f "$POSTMAN_ENV" ]]; then
    problems=()
    for pair in commandUrl:commandServiceUrl queryUrl:queryServiceUrl; do
        key="${pair%%:*}" sub="${pair#*:}"
        have="$(jq -r --arg k "$key" '.values[] | select(.key == $k) | .value' "$POSTMAN_ENV")"
        want="$(jq -r --arg k "$sub" '.[$k]' "$SUBMISSION")"
        [[ "$have" == "$want" ]] ||
            problems+=("$key is '$have', $SUBMISSION's $sub is '$want' (run postman/make-env.sh)")
    done
    check "$POSTMAN_ENV's base URLs are $SUBMISSION's" "${problems[@]}"
fi


# --- 5. the seeds (docs/seeds.md) ---------------------------------------------------------------
problems=()
listed="$(run_compose "$ENV_EXAMPLE" config --services 2>&1)"
for name in command-service query-service consumer-service db broker; do
    grep -qxF "$name" <<<"$listed" || problems+=("no service named $name (config --services: $(tr '\n' ' ' <<<"$listed"))")
done
check "config --services lists the e-commerce analytics seed's names" "${problems[@]}"

# the gateway: nginx's official image at a pinned version, the template mounted where the image's
# entrypoint renders it, upstreams at the two APIs' ports, listeners 8000 and 5002, published
problems=()
GATEWAY_TEMPLATE=docker/gateway/default.conf.template
image="$(cfg '.services.gateway.image // empty')"
[[ "$image" =~ ^nginx:[0-9]+\.[0-9]+(\.[0-9]+)?(-alpine)?$ ]] ||
    problems+=("gateway: image is '$image', not nginx's official image at a pinned version (nginx:1.27-alpine)")
[[ -f "$GATEWAY_TEMPLATE" ]] || problems+=("$GATEWAY_TEMPLATE is missing")
mount="$(cfg '.services.gateway.volumes // [] | .[] | if type == "string" then . else "\(.source):\(.target)" end' |
    grep -E ':/etc/nginx/templates(:ro)?$' || true)"
[[ "$mount" == "$REPO_ROOT/docker/gateway:/etc/nginx/templates"* || "$mount" == "./docker/gateway:/etc/nginx/templates"* ]] ||
    problems+=("gateway: docker/gateway is not mounted at /etc/nginx/templates (found '$mount')")
for v in COMMAND_UPSTREAM QUERY_UPSTREAM CQRS_GATEWAY_LISTEN QUERY_SIDE_LISTEN; do
    grep -qF "\${$v}" "$GATEWAY_TEMPLATE" 2>/dev/null || problems+=("$GATEWAY_TEMPLATE does not use \${$v}")
done
gw_env() { cfg --arg v "$1" '.services.gateway.environment[$v] // empty | tostring'; }
[[ "$(gw_env COMMAND_UPSTREAM)" == "command-service:$(svc_env command-service COMMAND_SERVICE_PORT)" ]] ||
    problems+=("gateway: COMMAND_UPSTREAM is '$(gw_env COMMAND_UPSTREAM)', not command-service:\$COMMAND_SERVICE_PORT")
[[ "$(gw_env QUERY_UPSTREAM)" == "query-service:$(svc_env query-service QUERY_SERVICE_PORT)" ]] ||
    problems+=("gateway: QUERY_UPSTREAM is '$(gw_env QUERY_UPSTREAM)', not query-service:\$QUERY_SERVICE_PORT")
mapfile -t ports < <(published_ports "$TMP/with-env.json" gateway)
for pair in CQRS_GATEWAY_LISTEN:8000 QUERY_SIDE_LISTEN:5002; do
    v="${pair%%:*}" port="${pair#*:}"
    [[ "$(gw_env "$v")" == "$port" ]] || problems+=("gateway: $v is '$(gw_env "$v")', not $port")
    printf '%s\n' "${ports[@]}" | grep -qxF "|$port|$port" ||
        problems+=("gateway: does not publish $port:$port on every interface")
done
check "gateway: nginx ($image) with $GATEWAY_TEMPLATE, publishing 8000 and 5002" "${problems[@]}"

# the broker: AMQP and the management UI on 127.0.0.1 only, credentials from .env
problems=()
mapfile -t ports < <(published_ports "$TMP/with-env.json" broker)
for port in 5672 15672; do
    printf '%s\n' "${ports[@]}" | grep -qxF "127.0.0.1|$port|$port" ||
        problems+=("broker: does not publish $port on 127.0.0.1")
done
for line in "${ports[@]}"; do
    [[ "$line" == "127.0.0.1|"* ]] || problems+=("broker: publishes '$line' beyond 127.0.0.1")
done
for v in RABBITMQ_DEFAULT_USER RABBITMQ_DEFAULT_PASS; do
    grep -qE "^[[:space:]]+$v: \\\$\{$v(:-[^}]*)?\}" "$COMPOSE_FILE" ||
        problems+=("broker: $v is not taken from .env (\${$v:-...})")
done
check "broker: AMQP and the management UI on 127.0.0.1 only, user and password from .env" "${problems[@]}"

# the command API listens beyond loopback in compose: it must always have a token
problems=()
for json in "$TMP/with-env.json" "$TMP/no-env.json"; do
    token="$(jq -r '.services["command-service"].environment.COMMAND_API_TOKEN // empty' "$json")"
    [[ -n "$token" ]] || problems+=("command-service: COMMAND_API_TOKEN is empty ($(basename "$json"))")
done
check "command-service: COMMAND_API_TOKEN is never empty" "${problems[@]}"

# the mood queue is bounded in compose as scripts/rabbit.sh bounds it for `make up`, and the APIs
# believe X-Forwarded-For from the gateway only (its fixed address)
problems=()
pol="$(cfg '.services["broker-policies"].command // [] | join(" ")')"
[[ "$pol" == *cqrs-mood-bound* && "$pol" == *drop-head* && "$pol" == *message-ttl* ]] ||
    problems+=("broker-policies does not declare the cqrs-mood-bound policy (max-length, drop-head, message-ttl)")
[[ "$(cfg '.services["broker-policies"].depends_on.broker.condition // empty')" == service_healthy ]] ||
    problems+=("broker-policies does not wait for a healthy broker")
gw_ip="$(cfg '.services.gateway.networks.default.ipv4_address // empty')"
[[ -n "$gw_ip" ]] || problems+=("the gateway has no fixed address")
for svc in command-service query-service; do
    [[ "$(cfg --arg s "$svc" '.services[$s].environment.HTTP_TRUSTED_PROXIES // empty')" == "$gw_ip" ]] ||
        problems+=("$svc: HTTP_TRUSTED_PROXIES is not the gateway's address ($gw_ip)")
done
check "broker-policies bounds the mood queue; the APIs trust the gateway's X-Forwarded-For only" "${problems[@]}"

# the cluster profile's read replica (docs/scaling.md#read-replica): db-replica streams from db
# (the official image at db's major version, pg_basebackup -R from db as cqrs_replicator, whose
# role and replication entry db's init script makes, with db's password); with
# QUERY_DB_HOST=db-replica the query API queries it, and its notifier listens on db either way
problems=()
[[ "$(cfg '.services["db-replica"].profiles // [] | index("cluster") != null')" == true ]] ||
    problems+=("db-replica is not a service of the cluster profile")
db_major="$(sed -n 's/^FROM postgres:\([0-9]*\).*/\1/p' docker/postgres.Dockerfile)"
[[ -n "$db_major" && "$(cfg '.services["db-replica"].image // empty')" == "postgres:$db_major" ]] ||
    problems+=("db-replica: image is '$(cfg '.services["db-replica"].image // empty')', not the official postgres:$db_major (db's version)")
replica_cmd="$(cfg '.services["db-replica"] | [.entrypoint // [], .command // []] | flatten | join(" ")')"
for want in "pg_basebackup -h db -U cqrs_replicator" " -R " "-S cqrs_replica" "hot_standby=on"; do
    [[ "$replica_cmd" == *"$want"* ]] || problems+=("db-replica: its command does not run '$want'")
done
[[ -n "$(svc_env db CQRS_REPLICATION_PASSWORD)" &&
    "$(svc_env db-replica PGPASSWORD)" == "$(svc_env db CQRS_REPLICATION_PASSWORD)" ]] ||
    problems+=("db-replica: PGPASSWORD is not db's CQRS_REPLICATION_PASSWORD")
for want in 'cqrs_replicator REPLICATION LOGIN' 'host replication cqrs_replicator'; do
    grep -q "$want" db/docker-init/*.sh || problems+=("db/docker-init does not make '$want'")
done
[[ "$(cfg '.services["db-replica"].depends_on.db.condition // empty')" == service_healthy ]] ||
    problems+=("db-replica does not wait for a healthy db")
[[ "$(svc_env query-service QUERY_LISTEN_DATABASE_URL)" == *@db:5432/* ]] ||
    problems+=("query-service: QUERY_LISTEN_DATABASE_URL does not name db (the primary)")
sed 's/^QUERY_DB_HOST=.*/QUERY_DB_HOST=db-replica/' "$ENV_EXAMPLE" >"$TMP/replica.env"
on_replica="$(run_compose "$TMP/replica.env" config 2>/dev/null | to_json |
    jq -r '.services["query-service"].environment.QUERY_DATABASE_URL // empty')"
[[ "$on_replica" == "$(svc_env query-service QUERY_DATABASE_URL | sed 's/@db:/@db-replica:/')" &&
    "$on_replica" == *@db-replica:5432/* ]] ||
    problems+=("query-service: with QUERY_DB_HOST=db-replica, QUERY_DATABASE_URL is '$on_replica', not the query URL on db-replica")
check "db-replica (cluster profile) streams from db; the query API reads it with QUERY_DB_HOST=db-replica" "${problems[@]}"

# --- the images build with exactly the packages `make test` proves: one list -------------------
# scripts/packages-build.txt is read by scripts/deps.sh and by the build stage of every service
# Dockerfile; no build stage names a package of its own, and deps.sh names none of the list's.
BUILD_LIST="scripts/packages-build.txt"
problems=()
mapfile -t build_pkgs < <(grep -Ev '^[[:space:]]*(#|$)' "$REPO_ROOT/$BUILD_LIST")
((${#build_pkgs[@]} > 0)) || problems+=("$BUILD_LIST lists no package")
grep -q 'packages-build.txt' "$REPO_ROOT/scripts/deps.sh" || problems+=("scripts/deps.sh does not read $BUILD_LIST")
for pkg in "${build_pkgs[@]}"; do
    if sed -n '/^packages=(/,/^)/p' "$REPO_ROOT/scripts/deps.sh" | grep -Eq "(^|[[:space:]])$pkg([[:space:]]|$)"; then
        problems+=("scripts/deps.sh names $pkg itself instead of reading $BUILD_LIST")
    fi
done
for svc in command-api query-api relay consumer; do
    df="$REPO_ROOT/docker/$svc.Dockerfile"
    # the build stage: from its FROM ... AS build to the next FROM
    stage="$(awk '/^FROM .* AS build/{on=1; print; next} /^FROM /{on=0} on' "$df")"
    grep -q "^COPY $BUILD_LIST " <<<"$stage" || problems+=("docker/$svc.Dockerfile: the build stage does not copy $BUILD_LIST")
    grep -q 'packages-build.txt' <<<"$(grep -A3 'apt-get update' <<<"$stage")" ||
        problems+=("docker/$svc.Dockerfile: the build stage's apt-get does not install from $BUILD_LIST")
    for pkg in "${build_pkgs[@]}"; do
        if grep -v '^#' <<<"$stage" | grep -Eq "(^|[[:space:]])$pkg([[:space:]]|\\|$)"; then
            problems+=("docker/$svc.Dockerfile: the build stage names $pkg itself")
        fi
    done
done
check "the service images install $BUILD_LIST, the build packages scripts/deps.sh installs" "${problems[@]}"

finish
