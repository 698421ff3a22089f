#!/bin/sh
# Writes the SDK version and the git commit it is built from (with -dirty for uncommitted changes)
# as a properties resource that checkpoints record as provenance. Usage: build-info.sh VERSION OUT_FILE
version=$1
out=$2
commit=$(git -C "$(dirname "$0")/.." rev-parse HEAD 2>/dev/null) || commit=unknown
if [ "$commit" != unknown ] && ! git -C "$(dirname "$0")/.." diff --quiet HEAD 2>/dev/null; then commit="$commit-dirty"; fi
mkdir -p "$(dirname "$out")"
printf 'version=%s\ngit.commit=%s\n' "$version" "$commit" > "$out"
