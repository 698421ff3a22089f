#!/usr/bin/env bash
# Runs on the GPU host from the repository root, over the .gpu/ folder that pack.sh made:
#   bench/gpu-host/run.sh tests   the JUnit tests tagged "gpu" (each checks a CUDA kernel against its CPU reference)
#   bench/gpu-host/run.sh bench   every native kernel bench in .gpu/native-bench/bin
#   bench/gpu-host/run.sh all     diagnose, tests, benches (default)
# Results go to $OUT (the device tool's folder) when set, else to .gpu/out.
set -uo pipefail
cd "$(dirname "$0")/../.."
what=${1:-all}
out=${OUT:-.gpu/out}
mkdir -p "$out"
java=.gpu/jre/bin/java
flags=(--enable-native-access=ALL-UNNAMED -Dqft4j.shared=.gpu/shared)
status=0

if [ "$what" = all ] || [ "$what" = diagnose ]; then
  "$java" "${flags[@]}" -cp ".gpu/classes:.gpu/lib/*" org.qft4j.cli.Main diagnose --device cuda 2>&1 | tee "$out/diagnose.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi
if [ "$what" = all ] || [ "$what" = tests ]; then
  "$java" "${flags[@]}" -cp ".gpu/test-classes:.gpu/classes:.gpu/lib/*" org.junit.platform.console.ConsoleLauncher \
    execute --scan-classpath .gpu/test-classes --include-tag gpu --details=tree --disable-banner \
    2>&1 | tee "$out/gpu-tests.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
fi
if [ "$what" = all ] || [ "$what" = bench ]; then
  for b in .gpu/native-bench/bin/*; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b")"
    "$b" 2>&1 | tee "$out/$(basename "$b").txt" || status=1
  done
fi
exit $status
