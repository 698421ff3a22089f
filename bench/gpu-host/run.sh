#!/usr/bin/env bash
# Runs on the GPU host from the repository root, over the .gpu/ folder that pack.sh made:
#   bench/gpu-host/run.sh tests   the JUnit tests tagged "gpu" (each checks a CUDA kernel against its CPU reference)
#   bench/gpu-host/run.sh bench   every native kernel bench in .gpu/native-bench/bin
#   bench/gpu-host/run.sh peer    the PyTorch training peer (torch_peer.py) at the issue-10 shapes: needs only python3 + torch
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
if [ "$what" = peer ]; then
  # One JSON line per run; the 7B rows are expected to report "fits": false on 80 GB (fp32 master + AdamW = 16 B/param).
  for run in "tiny bf16-adamw 2 256" "125m bf16-adamw 8 1024" "125m fp32-adamw 8 1024" "1b bf16-adamw 1 2048" \
             "1b fp32-adamw 1 2048" "1b bf16-adamw 4 2048" "7b bf16-adamw 1 2048" "7b fp32-adamw 1 2048"; do
    set -- $run
    python3 bench/gpu-host/torch_peer.py --model "$1" --mode "$2" --batch "$3" --seq "$4" --steps 10 \
      2>>"$out/torch-peer.err" | tee -a "$out/torch-peer.jsonl" || status=1
  done
fi
exit $status
