#!/usr/bin/env bash
# Runs native/cuda's kernels on the CPU through the CUDA emulator (tests/emu/README.md) against the CPU backend.
# Needs the CPU library built first (mvn -B -DskipTests package, or any mvn build): it links target/classes' libqft4j.so.
#   tests/emu/run.sh [matmul|attention|operands|cross_entropy|lion|outliers|train_step]
set -euo pipefail
cd "$(dirname "$0")/../.."
emu=tests/emu
out=${QFT4J_EMU_BUILD:-target/emu}
lib=target/classes/org/qft4j/nativ/linux-x86_64
[ -f "$lib/libqft4j.so" ] || { echo "no $lib/libqft4j.so: build the project first (mvn -B -DskipTests package)" >&2; exit 2; }
python3 "$emu/translate.py" native "$out/src"
mkdir -p "$out/obj"
flags=(-std=c++17 -O2 -g -ffp-contract=off -include "$PWD/$emu/cuda_emu.h" -I "$PWD/$emu" -I "$out/src/native/include"
       -DQFT4J_BUILD -DQFT4J_CUDA_TARGET='"emu"' -DQFT4J_CUDA_GENCODE='"emu"' -Wno-deprecated-declarations -U_FORTIFY_SOURCE)
kernels=(matmul_f32 matmul_f32_tf32 attention attention_tf32 quantize_operands int8_blocks cross_entropy lion_step outlier_codes train_step)
for k in "${kernels[@]}"; do
  g++ "${flags[@]}" -c "$out/src/native/cuda/$k.cpp" -o "$out/obj/$k.o" &
  while [ "$(jobs -r | wc -l)" -ge "${QFT4J_EMU_JOBS:-2}" ]; do wait -n; done
done
wait
g++ "${flags[@]}" "$emu/drivers.cpp" "$out"/obj/*.o -L "$lib" -lqft4j -Wl,-rpath,"$PWD/$lib" -o "$out/drivers"
"$out/drivers" "$@"
