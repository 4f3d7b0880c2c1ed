#!/usr/bin/env bash
# client-publish.sh — makes the browser client an operator serves: a copy of
# web/ whose trust-root.json pins the organisation key(s), with every integrity
# attribute regenerated, and prints the manifest to publish.
#
#   deploy/client-publish.sh --out DIR --root KIND:KEY[:LABEL] [--root …] [--web SRC]
#
#   --out DIR    where the client goes (created; an earlier publication there,
#                recognised by its trust-root.json, is replaced). Point lotsed's
#                web_root at it.
#   --root KIND:KEY[:LABEL]
#                a pinned root. KIND org: KEY is the organisation public key
#                (base64url, as `lotsectl orgkey-create` prints it) or a file
#                holding it (the .pub file); KIND network: the network key of a
#                counselling network (`lotsectl netkey-create`), which certifies
#                organisation keys (org-certify). Repeat for a rotation: the old
#                and the new key are both pinned until every device carries a
#                certificate of the new one (deploy/README.md). LABEL: letters,
#                digits, space . _ -.
#   --web SRC    the client to copy (default: web/ next to this script).
#
# The repository's web/trust-root.json pins no key: a client that was not
# published this way refuses to start a chat. lotsed never changes this file;
# it serves web_root as static files only.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$HERE/../web
OUT=
roots=()
die() { echo "client-publish: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case "$1" in
    --out) OUT=${2:?}; shift 2 ;;
    --web) SRC=${2:?}; shift 2 ;;
    --root) roots+=("${2:?}"); shift 2 ;;
    --help | -h) sed -n '2,22p' "$0"; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
    esac
done
[ -n "$OUT" ] || die "--out DIR is needed"
[ ${#roots[@]} -gt 0 ] || die "at least one --root org:KEY or network:KEY is needed"
[ -f "$SRC/index.html" ] && [ -f "$SRC/trust-root.json" ] || die "$SRC is not a lotse client (web/)"

entries=()
for r in "${roots[@]}"; do
    kind=${r%%:*}
    rest=${r#*:}
    [ "$kind" != "$r" ] || die "--root $r: expected KIND:KEY[:LABEL]"
    [ "$kind" = org ] || [ "$kind" = network ] || die "--root $r: unknown kind $kind (known: org, network)"
    key=${rest%%:*}
    label=
    [ "$key" = "$rest" ] || label=${rest#*:}
    if [ -f "$key" ]; then key=$(tr -d '[:space:]' <"$key"); fi
    [[ "$key" =~ ^[A-Za-z0-9_-]{43}$ ]] || die "--root $r: not a base64url Ed25519 public key (43 characters)"
    [[ "$label" =~ ^[A-Za-z0-9\ ._-]*$ ]] || die "--root $r: the label may hold letters, digits, space . _ - only"
    entries+=("    { \"kind\": \"$kind\", \"label\": \"$label\", \"key\": \"$key\" }")
done

if [ -e "$OUT" ]; then
    [ -d "$OUT" ] || die "$OUT exists and is not a folder"
    if [ -n "$(ls -A "$OUT")" ]; then
        [ -f "$OUT/trust-root.json" ] || die "$OUT is not empty and holds no earlier publication: not touching it"
        find "$OUT" -mindepth 1 -delete
    fi
fi
mkdir -p "$OUT"
cp -a "$SRC/." "$OUT/"

{
    echo "{"
    echo "  \"format\": \"lotse-trust-root-v1\","
    echo "  \"roots\": ["
    n=${#entries[@]}
    for i in "${!entries[@]}"; do
        if [ "$i" -lt $((n - 1)) ]; then echo "${entries[$i]},"; else echo "${entries[$i]}"; fi
    done
    echo "  ]"
    echo "}"
} >"$OUT/trust-root.json"

"$HERE/client-hashes.sh" --write "$OUT"
