#!/usr/bin/env bash
# run.sh: runs the Postman collection with newman against the two running APIs.
#   COMMAND_URL, QUERY_URL   base URLs (default: submission.json's, through make-env.sh)
#   COMMAND_API_TOKEN        the command API's bearer token (default: as the services get it,
#                            .env then .env.example, through scripts/env.sh)
#   NEWMAN_REPORT            also keep newman's JSON report at this path (optional)
# Installs newman (postman/package-lock.json) with `npm ci` when postman/node_modules is
# missing or older than the lock file.
# Prints newman's cli report, then as its very last line "newman: N passed, M failed": N the
# assertions that passed, M every failure newman recorded (failed assertions, script errors,
# requests that got no answer). Exits non-zero if anything failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

# newman from package-lock.json: npm ci when node_modules is missing or the lock file changed
# since the last install (its sha256 is kept in node_modules/.lock.sha256, as scripts/deps.sh
# does for tests/browser).
lock_sum="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -x node_modules/.bin/newman || "$(cat node_modules/.lock.sha256 2>/dev/null)" != "$lock_sum" ]]; then
    echo "run.sh: npm ci in postman/" >&2
    npm ci --no-audit --no-fund >&2
    echo "$lock_sum" >node_modules/.lock.sha256
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
# the token the services get: the caller's, else .env's, else .env.example's
COMMAND_API_TOKEN="$(bash -c 'source "$1" && printf %s "${COMMAND_API_TOKEN-}"' _ ../scripts/env.sh)"
export COMMAND_API_TOKEN
./make-env.sh "$tmp/environment.json"
report="${NEWMAN_REPORT:-$tmp/newman.json}"
echo "run.sh: command API $(jq -r '.values[0].value' "$tmp/environment.json"), query API $(jq -r '.values[1].value' "$tmp/environment.json")"

color=on
if [[ ! -t 1 ]]; then
    color=off
    export FORCE_COLOR=0 # plain text in logs, also in the failure table
fi
st=0
node_modules/.bin/newman run cqrs.postman_collection.json \
    --environment "$tmp/environment.json" \
    --reporters cli,json --reporter-json-export "$report" \
    --timeout-request 15000 --color "$color" || st=$?

if [[ ! -s "$report" ]]; then
    echo "run.sh: newman exited with status $st and wrote no report"
    echo "newman: 0 passed, 1 failed"
    exit 1
fi
read -r total failed_assertions failures < <(jq -r '[.run.stats.assertions.total,
    .run.stats.assertions.failed, (.run.failures | length)] | map(tostring) | join(" ")' "$report")
passed=$((total - failed_assertions))
if ((st != 0 && failures == 0)); then
    failures=1 # newman failed without recording why
fi
echo "newman: $passed passed, $failures failed"
((failures == 0))
