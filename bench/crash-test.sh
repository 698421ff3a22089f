#!/bin/sh
# Crash test, benchmark size: a child JVM is killed with SIGKILL at random moments; after each kill the newest
# valid checkpoint must be at least the last save the child reported complete.
#   synthetic (default): a deterministic synthetic state saved every 2 steps; each checkpoint must also be
#                        bit-identical to the replayed state.
#   trainer:             the real QFT trainer on a tiny model, saving every step; each checkpoint must also pass
#                        the trainer's schema and resume into a fresh trainer of the same config.
# Usage: bench/crash-test.sh [KILLS (default 100)] [SEED] [synthetic|trainer]   (after `mvn test-compile` or `mvn verify`)
set -e
cd "$(dirname "$0")/.."
# Run from a copy of the classes so that a rebuild during the run cannot pull them away.
classes=$(mktemp -d)
trap 'rm -rf "$classes"' EXIT
cp -r target/classes "$classes/main"
cp -r target/test-classes "$classes/test"
main=org.qft4j.checkpoint.CrashHarness
[ "${3:-synthetic}" = trainer ] && main=org.qft4j.train.TrainerCrash
seed=${2:-$(date +%s)}
# The trainer loads qft4j's natives through JavaCPP (natives themselves are in target/classes).
javacpp=$(ls "${HOME}"/.m2/repository/org/bytedeco/javacpp/1.5.14/javacpp-1.5.14.jar)
java -Xmx512m -cp "$classes/main:$classes/test:$javacpp" $main "${1:-100}" "$seed"
