#!/usr/bin/env bash
# The layering check (part of the lint suite of `make test`): keeps docs/architecture.md's map of
# the tree true. One test per C file and one per folder:
# - a file under lib/<layer>/ includes project headers only as "<layer>/name.h", from its own
#   layer or a layer below it (LIB_MAY_USE), never a service's header;
# - a service (api/command, api/query, relay, consumer, tools) includes lib headers by layer and
#   its own headers by bare name (found in its own folder), never another service's: services
#   share code only through lib/;
# - every folder of tracked files is on the map, and every folder the map names exists.
# Prints one line per failure and, as its last line, "layers: N passed, M failed".
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# What each lib/ layer may include besides itself (docs/architecture.md, "Map of the tree").
declare -A LIB_MAY_USE=(
    [base]=""
    [metrics]="base"
    [domain]="base"
    [pg]="base"
    [mq]="base"
    [http]="base metrics"
    [service]="base metrics domain http pg mq"
)
SERVICES="api/command api/query relay consumer tools"
MAP=docs/architecture.md

pass=0 fail=0
bad() {
    fail=$((fail + 1))
    echo "layers: $*"
}

# project_includes FILE: the names in the file's #include "..." lines, one per line
project_includes() {
    sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$1"
}

# check_lib FILE LAYER: 0 if every include of FILE is allowed for LAYER
check_lib() {
    local file="$1" layer="$2" inc dep ok=0
    while IFS= read -r inc; do
        [[ "$inc" == cq_version.h && "$file" == lib/base/version.c ]] && continue # generated
        if [[ "$inc" != */* ]]; then
            bad "$file: #include \"$inc\": a lib/ header is included by its layer (\"<layer>/$inc\")"
            ok=1
            continue
        fi
        dep="${inc%%/*}"
        if [[ ! -v "LIB_MAY_USE[$dep]" || ! -f "lib/$inc" ]]; then
            bad "$file: #include \"$inc\": not a lib/ header (lib/ never includes a service's)"
            ok=1
        elif [[ "$dep" != "$layer" && " ${LIB_MAY_USE[$layer]} " != *" $dep "* ]]; then
            bad "$file: #include \"$inc\": lib/$layer may use only: ${LIB_MAY_USE[$layer]:-nothing}"
            ok=1
        fi
    done < <(project_includes "$file")
    return "$ok"
}

# check_service FILE DIR: 0 if FILE includes only lib/ headers by layer and its own by bare name
check_service() {
    local file="$1" dir="$2" inc ok=0
    while IFS= read -r inc; do
        if [[ "$inc" == */* ]]; then
            if [[ ! -v "LIB_MAY_USE[${inc%%/*}]" || ! -f "lib/$inc" ]]; then
                bad "$file: #include \"$inc\": services share code only through lib/"
                ok=1
            fi
        elif [[ ! -f "$dir/$inc" ]]; then
            bad "$file: #include \"$inc\": not a header of $dir/"
            ok=1
        fi
    done < <(project_includes "$file")
    return "$ok"
}

while IFS= read -r f; do
    case "$f" in
        lib/*/*)
            layer="${f#lib/}"
            layer="${layer%%/*}"
            if [[ ! -v "LIB_MAY_USE[$layer]" ]]; then
                bad "$f: lib/$layer/ is not a layer of the map"
                continue
            fi
            check_lib "$f" "$layer" && pass=$((pass + 1))
            ;;
        lib/*) bad "$f: lib/ holds layer folders only" ;;
        *)
            dir="${f%/*}"
            if [[ " $SERVICES " == *" $dir "* ]]; then
                check_service "$f" "$dir" && pass=$((pass + 1))
            fi
            ;;
    esac
done < <(git ls-files '*.c' '*.h')

# The map: the folders named in the "Map of the tree" section, as "- `path/`" items.
# shellcheck disable=SC2016 # the backquotes are Markdown, not shell
mapfile -t mapped < <(sed -n '/^## Map of the tree/,/^## /p' "$MAP" |
    sed -n 's/^- `\([^`]*\)\/`.*/\1/p')
if ((${#mapped[@]} == 0)); then
    bad "$MAP has no \"## Map of the tree\" section with \"- \`folder/\`\" items"
fi
declare -A on_map=()
for d in "${mapped[@]}"; do
    on_map["$d"]=1
    if [[ -d "$d" ]]; then
        pass=$((pass + 1))
    else
        bad "$MAP names $d/, which does not exist"
    fi
done
# every folder of tracked files is on the map, itself or through a mapped parent that ends
# in "/*" on the map (e.g. tests/fuzz/corpus/)
while IFS= read -r d; do
    [[ "$d" == . || "$d" == */node_modules* ]] && continue
    p="$d"
    while [[ "$p" == */* && ! -v "on_map[$p]" ]]; do p="${p%/*}"; done
    if [[ -v "on_map[$p]" && ("$p" == "$d" || "$(sed -n "s|^- \`$p/\`.*(\\(tree\\)).*|tree|p" "$MAP")" == tree) ]]; then
        pass=$((pass + 1))
    else
        bad "$d/ holds tracked files but is not on the map in $MAP"
    fi
done < <(git ls-files | sed -n 's|/[^/]*$||p' | sort -u)

echo "layers: $pass passed, $fail failed"
((fail == 0))
