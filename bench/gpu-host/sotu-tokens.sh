#!/usr/bin/env bash
# Tokenizes the State of the Union corpus (../shared/data/sotu: one address per file, named YEAR_president_party.txt)
# with GPT-2 BPE (qft4j tokenize, jtokkit r50k_base) into DIR/train.i32 (the addresses before 2012) and DIR/val.i32
# (2012-2021, the held-out set), little-endian int32, each address starting with <|endoftext|>. Needs target/qft4j.jar.
#   bench/gpu-host/sotu-tokens.sh DIR [SOTU_DIR]
set -euo pipefail
cd "$(dirname "$0")/../.."
dir=${1:?usage: sotu-tokens.sh DIR [SOTU_DIR]}
sotu=${2:-${QFT4J_SHARED:-../shared}/data/sotu}
first_val_year=2012
[ -f target/qft4j.jar ] || { echo "target/qft4j.jar missing: run 'mvn -B -DskipTests package' first" >&2; exit 1; }
split=$(mktemp -d)
trap 'rm -rf "$split"' EXIT
mkdir -p "$split/train" "$split/val" "$dir"
for f in "$sotu"/*.txt; do
  year=$(basename "$f" | cut -c1-4)
  [[ $year =~ ^[0-9]{4}$ ]] || { echo "$f: no year at the start of the name" >&2; exit 1; }
  if [ "$year" -ge $first_val_year ]; then ln -s "$(realpath "$f")" "$split/val/"; else ln -s "$(realpath "$f")" "$split/train/"; fi
done
java -jar target/qft4j.jar tokenize --encoding gpt2 --data "$split/train" --out "$dir/train.i32"
java -jar target/qft4j.jar tokenize --encoding gpt2 --data "$split/val" --out "$dir/val.i32"
