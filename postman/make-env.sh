#!/usr/bin/env bash
# make-env.sh [OUT]: writes the Postman environment (default postman/environment.json):
#   commandUrl, queryUrl  submission.json's commandServiceUrl and queryServiceUrl, unless
#                         COMMAND_URL / QUERY_URL are set (tests run the services on free ports)
#   commandToken          the command API's bearer token: COMMAND_API_TOKEN if set (also if set
#                         to empty: no token), else .env.example's (the development token; .env is
#                         not read, so that a secret there never lands in the committed file)
# scripts/compose-check.sh checks that the committed file matches submission.json.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
submission="$here/../submission.json"
out="${1:-$here/environment.json}"

command -v jq >/dev/null || { echo "make-env.sh: jq is not installed" >&2; exit 1; }
command_url="${COMMAND_URL:-$(jq -er '.commandServiceUrl' "$submission")}" ||
    { echo "make-env.sh: no commandServiceUrl in $submission" >&2; exit 1; }
query_url="${QUERY_URL:-$(jq -er '.queryServiceUrl' "$submission")}" ||
    { echo "make-env.sh: no queryServiceUrl in $submission" >&2; exit 1; }

if [[ -n "${COMMAND_API_TOKEN+set}" ]]; then
    token="$COMMAND_API_TOKEN"
else
    token="$(sed -nE 's/^[[:space:]]*(export[[:space:]]+)?COMMAND_API_TOKEN=//p' "$here/../.env.example" |
        tail -n 1 | sed -E 's/^"(.*)"$/\1/; s/^'\''(.*)'\''$/\1/')"
fi

jq -n --arg c "${command_url%/}" --arg q "${query_url%/}" --arg t "$token" '{
  id: "cqrs-environment",
  name: "CQRS commerce backend",
  values: [
    {key: "commandUrl", value: $c, type: "default", enabled: true},
    {key: "queryUrl", value: $q, type: "default", enabled: true},
    {key: "commandToken", value: $t, type: "secret", enabled: true}
  ],
  _postman_variable_scope: "environment"
}' >"$out.tmp"
mv "$out.tmp" "$out"
