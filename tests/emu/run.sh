#!/usr/bin/env bash
# Builds the CUDA-on-CPU emulator's drivers with g++ and runs them (tests/emu/README.md). Exit status != 0 on any
# mismatch or emulation error. Usage: tests/emu/run.sh [driver ...]   (default: all test_*.cpp)
# NATIVE_DIR=/other/tree/native runs the drivers on another tree's kernels, CPU references and headers (e.g. a newer
# lion_step.cu and lion_step.cpp); CUDA_DIR=dir swaps only the kernel directory (e.g. a mutated copy).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${EMU_BUILD:-$root/target/emu}
native=${NATIVE_DIR:-$root/native}
cuda_dir=${CUDA_DIR:-$native/cuda}
# Objects are reused by timestamp: other sources get their own build directory.
if [[ -z "${EMU_BUILD:-}" && ( -n "${NATIVE_DIR:-}" || -n "${CUDA_DIR:-}" ) ]]; then
    build=$root/target/emu-$(echo "$native $cuda_dir" | md5sum | cut -c1-8)
fi
jobs=${JOBS:-2}
mkdir -p "$build/obj" "$build/src"
# -ffp-contract=off: no fused multiply-adds anywhere, so __fmul_rn & co. and the CPU references are plain IEEE operations.
CXX=${CXX:-g++}
flags=(-std=c++17 -O2 -g -ffp-contract=off -Wall -Wno-unused-parameter -Wno-unused-variable -Wno-unused-function -Wno-unknown-pragmas -Wno-sign-compare -DQFT4J_BUILD
       -DQFT4J_CUDA_TARGET='"emu"' -DQFT4J_CUDA_GENCODE='"emu"' -I"$native/include")
# EMU_ASAN=1: AddressSanitizer on kernels, references and drivers: out-of-bounds global memory (device buffers are
# host heap blocks) and static __shared__ arrays (globals with redzones); own build directory.
link_flags=()
if [[ -n "${EMU_ASAN:-}" ]]; then
    flags+=(-fsanitize=address -fno-omit-frame-pointer)
    link_flags+=(-fsanitize=address)
    build=$build-asan
    mkdir -p "$build/obj" "$build/src"
fi
# EMU_FMA=1: the kernels (not the CPU references) compiled with FMA contraction, as nvcc contracts a*b+c by default:
# a bit-exact case that then fails has an uncontracted-looking expression that nvcc may fuse (GCC and nvcc do not
# contract the same expressions, so passing proves nothing about nvcc).
cuda_flags=()
if [[ -n "${EMU_FMA:-}" ]]; then
    cuda_flags+=(-mfma -ffp-contract=fast)
    build=$build-fma
    mkdir -p "$build/obj" "$build/src"
fi

source "$here/compile.sh"
emu_transform "$cuda_dir" "$native/common" "$build/src"
jobs_list=()
for f in "$native"/cpu/*.cpp; do
    [[ $(basename "$f") == cuda_loader.cpp ]] && continue
    jobs_list+=("$f $build/obj/cpu_$(basename "$f" .cpp).o")
done
drivers=("$@")
if [[ ${#drivers[@]} -eq 0 ]]; then drivers=("$here"/test_*.cpp); fi
# Each driver names the kernel files it runs on a line "// emu-cuda: a.cu b.cu"; "a.cu:sm90" is a.cu as the sm90
# library compiles it (emu_sm90_opts), linked into that driver in place of the plain a.cu. The plain a.cu is built too:
# every driver links every plain kernel object (libemu.a), and int8_matmul.cu needs its sm90 files' host code.
cuda_files=$(for d in "${drivers[@]}"; do sed -n 's|^// emu-cuda:||p' "$d"; done | tr ' ' '\n' | sed 's|^\(.*\.cu\):sm90$|\1\n&|' | sort -u)
mkdir -p "$build/obj/sm90"
plain_files=()
for b in $cuda_files; do
    if [[ $b == *.cu:sm90 ]]; then
        f=${b%:sm90}
        jobs_list+=("$build/src/cuda/$f $build/obj/sm90/cuda_${f%.cu}.o $emu_kernel_opts ${cuda_flags[*]:-} \$emu_sm90_opts")
    else
        plain_files+=("$b")
        jobs_list+=("$build/src/cuda/$b $build/obj/cuda_${b%.cu}.o $emu_kernel_opts ${cuda_flags[*]:-}")
    fi
done
for e in emu emu_mma_int emu_sm90; do jobs_list+=("$here/$e.cpp $build/obj/$e.o -I$here"); done
jobs_list+=("$here/driver_main.cpp $build/obj/driver_main.o -I$here")
for d in "${drivers[@]}"; do
    d=$(cd "$(dirname "$d")" && pwd)/$(basename "$d")
    jobs_list+=("$d $build/obj/$(basename "$d" .cpp).o -I$here -I$here/include")
done
printf '%s\n' "${jobs_list[@]}" | emu_compile_all
libs=()
for o in "$build"/obj/cpu_*.o; do libs+=("$o"); done
for b in ${plain_files[@]+"${plain_files[@]}"}; do libs+=("$build/obj/cuda_${b%.cu}.o"); done
rm -f "$build/libemu.a" && ar rcs "$build/libemu.a" "${libs[@]}"
status=0
for d in "${drivers[@]}"; do
    b=$(basename "$d" .cpp)
    lib=$build/libemu.a
    variants=$(sed -n 's|^// emu-cuda:||p' "$d" | tr ' ' '\n' | sed -n 's|\.cu:sm90$||p')
    if [[ -n $variants ]]; then  # the archive with this driver's sm90 objects replacing the plain ones (same member names)
        lib=$build/libemu-$b.a
        cp "$build/libemu.a" "$lib"
        for v in $variants; do ar r "$lib" "$build/obj/sm90/cuda_$v.o"; done
    fi
    "$CXX" -rdynamic "${link_flags[@]}" -o "$build/$b" "$build/obj/$b.o" "$build/obj/driver_main.o" "$build/obj/emu.o" "$build/obj/emu_mma_int.o" "$build/obj/emu_sm90.o" -Wl,--whole-archive "$lib" -Wl,--no-whole-archive -ldl -lpthread
    echo "== $b"
    "$build/$b" || status=1
done
exit $status
