#!/usr/bin/env bash
# Runs the JMH benchmarks (bench/jmh, compiled with the tests) on this machine:
#   mvn -B -DskipTests package && bench/run-jmh.sh [JMH args, e.g. Int8Matmul -f 1 -wi 2 -i 3]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d target/test-classes ] || { echo "run 'mvn -B -DskipTests package' first" >&2; exit 1; }
cp_file=target/jmh.classpath
[ -f "$cp_file" ] || mvn -B -o dependency:build-classpath -Dmdep.outputFile="$cp_file" -Dmdep.includeScope=test >/dev/null
exec java --enable-native-access=ALL-UNNAMED -cp "target/test-classes:target/classes:$(cat "$cp_file")" \
  org.openjdk.jmh.Main "$@"
