#!/usr/bin/env bash
# client-hashes.sh — the Subresource Integrity hashes of the browser client.
#
#   deploy/client-hashes.sh [--write | --check] [WEB_DIR]      (default: web)
#
# Every page (*.html under WEB_DIR) names each file it loads with an
# integrity="sha384-…" attribute (scripts, the stylesheet, the trust root in
# <link rel="preload" href="/trust-root.json">) or in the "integrity" section of
# its <script type="importmap"> (every JavaScript module; lotsed puts the import
# map's SHA-256 into its Content-Security-Policy, server/src/csp.c). This script
#
#   (no option)  prints the manifest an operator publishes: the SHA-384 of every
#                page and of every file a page names, and the trust root's
#                fingerprint with the keys it pins. An auditor fetches the served
#                files and compares (deploy/README.md, "What can be checked").
#   --check      exits 1, naming each attribute that does not match its file
#                (a changed JS file whose hash was not regenerated);
#   --write      rewrites every integrity attribute from the files, then prints
#                the manifest. Run it after any change to web/.
#
# Needs only coreutils (sha384sum, b2sum, base64) and perl-base: the same run on
# the operator's and the auditor's machine gives the same output.
set -euo pipefail

mode=print
case "${1:-}" in
--write) mode=write; shift ;;
--check) mode=check; shift ;;
--help | -h) sed -n '2,21p' "$0"; exit 0 ;;
esac
WEB=${1:-web}
[ -d "$WEB" ] || { echo "client-hashes: no folder $WEB" >&2; exit 2; }
WEB=$(cd "$WEB" && pwd)

# sha384-<base64> of a file, the form of an integrity attribute, into $SRI
# (each file is hashed once per run).
declare -A SRI_CACHE
sri() {
    if [ -z "${SRI_CACHE[$1]:-}" ]; then
        SRI_CACHE[$1]="sha384-$(sha384sum "$1" | perl -ne 'print pack("H*", (split)[0])' | base64 -w0)"
    fi
    SRI=${SRI_CACHE[$1]}
}

pages=$(cd "$WEB" && find . -name '*.html' -type f | sed 's|^\./|/|' | LC_ALL=C sort)
[ -n "$pages" ] || { echo "client-hashes: no pages in $WEB" >&2; exit 2; }

bad=0
for page in $pages; do
    # one line per tag that carries integrity: "<path> <integrity>"
    # and one per entry of an import map's "integrity" section
    refs=$(perl -0ne 'while (/<(?:script|link)\b[^>]*>/g) { my $t = $&;
        next unless $t =~ /\bintegrity="([^"]*)"/; my $i = $1;
        next unless $t =~ /\b(?:src|href)="([^"]+)"/; print "$1 $i\n"; }
        while (/<script type="importmap">(.*?)<\/script>/gs) { my $m = $1;
        while ($m =~ /"(\/[^"]+)"\s*:\s*"(sha384-[^"]*)"/g) { print "$1 $2\n"; } }' "$WEB$page")
    while read -r path have; do
        [ -n "$path" ] || continue
        case "$path" in /*) ;; *) echo "client-hashes: $page: $path is not an absolute path" >&2; bad=1; continue ;; esac
        file=$WEB$path
        if [ ! -f "$file" ]; then
            echo "client-hashes: $page names $path, which is not in $WEB" >&2
            bad=1
            continue
        fi
        sri "$file"
        want=$SRI
        if [ "$have" != "$want" ]; then
            if [ "$mode" = write ]; then
                WANT=$want P=$path perl -0pi -e 's{(<(?:script|link)\b[^>]*\b(?:src|href)="\Q$ENV{P}\E"[^>]*\bintegrity=")[^"]*(")}{$1$ENV{WANT}$2}g;
                    s{(<(?:script|link)\b[^>]*\bintegrity=")[^"]*("[^>]*\b(?:src|href)="\Q$ENV{P}\E")}{$1$ENV{WANT}$2}g;
                    s{("\Q$ENV{P}\E"\s*:\s*")sha384-[^"]*(")}{$1$ENV{WANT}$2}g' "$WEB$page"
            else
                echo "client-hashes: $page: integrity of $path is $have, the file's is $want" >&2
                bad=1
            fi
        fi
    done <<<"$refs"
done

if [ "$mode" = check ]; then
    [ "$bad" = 0 ] && echo "client-hashes: every integrity attribute matches its file"
    exit "$bad"
fi
[ "$bad" = 0 ] || exit 1

# ---- the manifest ---------------------------------------------------------------
echo "# lotse browser client: SHA-384 (Subresource Integrity form) of every page and"
echo "# of every file a page loads. Compare with the served files (deploy/README.md)."
files=$(for page in $pages; do
    echo "$page"
    perl -0ne 'while (/<(?:script|link)\b[^>]*>/g) { my $t = $&; next unless $t =~ /\bintegrity="/;
        print "$1\n" if $t =~ /\b(?:src|href)="([^"]+)"/; }
        while (/<script type="importmap">(.*?)<\/script>/gs) { my $m = $1;
        while ($m =~ /"(\/[^"]+)"\s*:\s*"sha384-/g) { print "$1\n"; } }' "$WEB$page"
done | LC_ALL=C sort -u)
SRI_CACHE=() # --write changed pages: hash them anew
for f in $files; do
    sri "$WEB$f"
    printf '%s  %s\n' "$SRI" "$f"
done
root=$WEB/trust-root.json
if [ -f "$root" ]; then
    sri "$root"
    echo "# trust root: /trust-root.json $SRI"
    # one line per pinned key: kind, label, key, fingerprint (BLAKE2b-64 of the
    # 32 key bytes, as the counsellor console shows device keys)
    perl -0ne 'while (/\{[^{}]*\}/g) { my $o = $&; my ($k) = $o =~ /"kind"\s*:\s*"([^"]*)"/;
        my ($l) = $o =~ /"label"\s*:\s*"((?:[^"\\]|\\.)*)"/; my ($key) = $o =~ /"key"\s*:\s*"([A-Za-z0-9_-]+)"/;
        print "$k\t$key\t", ($l // ""), "\n" if defined $k && defined $key; }' "$root" |
        while IFS=$'\t' read -r kind key label; do
            b64=$(printf '%s' "$key" | tr -- '-_' '+/')
            while [ $(( ${#b64} % 4 )) -ne 0 ]; do b64="$b64="; done
            fp=$(printf '%s' "$b64" | base64 -d | b2sum -l 64 | cut -d' ' -f1 | sed 's/.\{4\}/& /g; s/ $//')
            printf '#   %s key %s fingerprint %s label "%s"\n' "$kind" "$key" "$fp" "$label"
        done
    grep -q '"key"' "$root" || echo "#   (no key pinned: run deploy/client-publish.sh)"
fi
