#!/usr/bin/env bash
# Builds the emulated GPU (tests/emu/README.md, "The emulated GPU"): every native/cuda/*.cu compiled by the
# emulator into a CUDA kernel library (libqft4j_cuda.so, target "emu"), and a stand-in NVIDIA driver
# (libcuda.so.1) reporting one emulated device. With both, the Java GPU tests run on a machine without a GPU:
#   LD_LIBRARY_PATH=OUT/driver java -Dqft4j.cuda.library=OUT/libqft4j_cuda.so ...
# Usage: tests/emu/build-lib.sh LIBQFT4J_SO [OUT]   (OUT defaults to target/emu-lib)
# The kernel library links against the CPU library (qft_set_error & co.), as the real one does.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
core=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
out=${2:-$root/target/emu-lib}
mkdir -p "$out/obj" "$out/src" "$out/driver"
out=$(cd "$out" && pwd)
jobs=${JOBS:-2}
CXX=${CXX:-g++}
# As run.sh, plus -fPIC; the kernels see the device branches of the shared headers (__CUDA_ARCH__=900).
flags=(-std=c++17 -O2 -g -fPIC -fvisibility=hidden -ffp-contract=off -w -DQFT4J_BUILD -DQFT4J_CUDA_TARGET='"emu"'
       -DQFT4J_CUDA_GENCODE='"CUDA-on-CPU emulator, tests/emu"' -I"$root/native/include")
source "$here/compile.sh"
emu_transform "$root/native/cuda" "$root/native/common" "$out/src"
list=()
# The Hopper INT8 kernels as the sm90 library compiles them (their sm_90a bodies, target sm90): on the emulated 9.0
# device the INT8 GEMM then takes the TMA kernel, as on an H100; the rest of the library is the same on every target.
for f in "$out"/src/cuda/*.cu; do
    case $(basename "$f") in
        int8_matmul_sm90.cu | int8_matmul_tma.cu) list+=("$f $out/obj/cuda_$(basename "$f" .cu).o $emu_kernel_opts \$emu_sm90_opts") ;;
        *) list+=("$f $out/obj/cuda_$(basename "$f" .cu).o $emu_kernel_opts") ;;
    esac
done
for f in "$here"/emu*.cpp; do list+=("$f $out/obj/$(basename "$f" .cpp).o -I$here"); done
printf '%s\n' "${list[@]}" | emu_compile_all
# The entry points are exported by QFT_API (default visibility); everything else stays inside the library.
"$CXX" -shared -o "$out/libqft4j_cuda.so" "$out"/obj/*.o "$core" -Wl,-rpath,"$(dirname "$core")" -ldl -lpthread
"${CC:-gcc}" -shared -fPIC -O2 -Wall -o "$out/driver/libcuda.so.1" "$here/fake_driver.c" -Wl,-soname,libcuda.so.1
echo "emulated GPU: $out/libqft4j_cuda.so, driver $out/driver/libcuda.so.1"
