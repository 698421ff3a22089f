# Sourced by run.sh and build-lib.sh: the emulator's source transformation and its parallel, timestamp-aware compile.
# Expects: here (tests/emu), CXX, flags (array of common options), jobs.

# Copies the kernel sources ($1: a native/cuda directory, $2: native/common) into $3/cuda and $3/common, rewritten
# for the emulator (transform.py).
emu_transform() {
    python3 "$here/transform.py" "$1" "$3/cuda"
    python3 "$here/transform.py" "$2" "$3/common"
}

# Options of a kernel file. The device branches (#ifdef __CUDA_ARCH__) of shared headers such as qft_math.h are the
# ones the GPU runs; nvcc includes the runtime header implicitly. Kernels pun types through reinterpret_cast (bf16
# pairs as 32-bit words), which nvcc compiles as written: no strict-aliasing optimisation here either. -Wno-psabi: the
# 64-byte aligned CUtensorMap kernel parameters of int8_matmul_tma.cu draw a note about an old GCC ABI change.
emu_kernel_opts="-x c++ -I$here/include -D__CUDACC__ -D__CUDA_ARCH__=900 -fno-strict-aliasing -Wno-psabi -include $here/cuda_emu.h"

# A kernel file as the sm90 library compiles it (the "f.cu:sm90" of a driver's emu-cuda line): its sm_90a bodies
# (#if defined(__CUDA_ARCH_FEAT_SM90_ALL)) and the target name that makes wgmma_available / tma_available accept them.
# Named in a job line as $emu_sm90_opts, expanded by the compiling shell (a variable, so that its quotes survive xargs).
export emu_sm90_opts='-D__CUDA_ARCH_FEAT_SM90_ALL -UQFT4J_CUDA_TARGET -DQFT4J_CUDA_TARGET="sm90"'

# Compiles $1 to $2 (options of this file after them) unless $2 is newer than $1 and the emulator's header.
compile() {
    if [[ ! -f "$2" || "$1" -nt "$2" || "$here/cuda_emu.h" -nt "$2" ]]; then "$CXX" "${flags[@]}" "${@:3}" -c "$1" -o "$2"; fi
}
export -f compile

# Compiles every "SOURCE OBJECT [options]" line of stdin, $jobs at a time; fails if any compile fails.
emu_compile_all() {
    local flags_q
    flags_q=$(printf '%q ' "${flags[@]}")
    CXX="$CXX" FLAGS="$flags_q" here="$here" xargs -P "$jobs" -I{} bash -c 'eval "flags=($FLAGS)"; compile {}'
}
