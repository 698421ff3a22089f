#!/bin/sh
# Crash test, benchmark size: a child JVM trains a deterministic synthetic state with a save every 2
# steps and is killed with SIGKILL at random moments; after each kill the newest valid checkpoint must
# be at least the last save the child reported complete and bit-identical to the replayed state.
# Usage: bench/crash-test.sh [KILLS (default 100)] [SEED]   (after `mvn test-compile` or `mvn verify`)
set -e
cd "$(dirname "$0")/.."
# Run from a copy of the classes so that a rebuild during the run cannot pull them away.
classes=$(mktemp -d)
trap 'rm -rf "$classes"' EXIT
cp -r target/classes "$classes/main"
cp -r target/test-classes "$classes/test"
java -Xmx512m -cp "$classes/main:$classes/test" org.qft4j.checkpoint.CrashHarness "${1:-100}" ${2:+"$2"}
