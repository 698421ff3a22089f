#!/usr/bin/env bash
# Packs everything a GPU host (CUDA driver, no JDK, no Maven, no network) needs to run qft4j's GPU tests
# and benches into .gpu/ (git-ignored): a minimal Java runtime, the jars, the classes, the test classes and
# the small shared files the GPU tests read (run.sh builds the native benches on the host). Run here after a build with CUDA:
#   mvn -B -DskipTests package && bench/gpu-host/pack.sh
# then on the GPU host (the device tool carries .gpu): bench/gpu-host/run.sh [tests|bench|train|all]
#   bench/gpu-host/pack.sh sotu   packs for run.sh sotu (and train) instead: the SOTU token files in place of the test
#                                 classes and shared files, which do not fit beside them (3.1 MB; the carry is 64 MiB with
#                                 the working tree, and .gpu was 60.4 MiB at commit 1cb8197)
# The Java runtime has no java.desktop (AWT: +14.6 MB, and fonts the bare host may lack), so run.sh sotu's plot is drawn
# here from the logs that come back.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=.gpu
what=${1:-all}
[ "$what" = all ] || [ "$what" = sotu ] || { echo "usage: pack.sh [all|sotu]" >&2; exit 2; }
shared=${QFT4J_SHARED:-../shared}

[ -f target/qft4j.jar ] || { echo "target/qft4j.jar missing: run 'mvn -B -DskipTests package' first" >&2; exit 1; }
ls target/classes/org/qft4j/nativ/linux-x86_64-cuda-sm90/libqft4j_cuda.so >/dev/null 2>&1 ||
  { echo "no CUDA libraries in target/classes: build with nvcc on PATH (QFT4J_CUDA=AUTO or ON)" >&2; exit 1; }

mkdir -p "$out"
"$shared/tools/gpu-host-jre.sh" "$out/jre" "jdk.management"
# jlink keeps libjvm.so's symbol tables (24 MB; 20 MB stripped): at commit 60f9669 they were what took .gpu plus the
# working tree past the carry limit.
strip --strip-unneeded "$out/jre/lib/server/libjvm.so"
rm -rf "$out/lib" "$out/classes" "$out/test-classes" "$out/native-bench" "$out/shared" "$out/sotu" "$out/qft4j.jar"
# Runtime and test jars, without LibTorch's 88 MB native jar (GPU tests do not use the CPU oracle), without
# Jazzer's fuzzing engine (fuzz tests are CPU tests) and without DJL's Hugging Face tokenizers (18 MB with its native
# libraries for four platforms, plus JNA and commons; tokenizer.json is a CPU path no GPU test takes): the device
# tool carries at most 64 MiB.
mvn -B -o dependency:copy-dependencies -DincludeScope=test -DoutputDirectory="$out/lib" -DexcludeClassifiers=linux-x86_64 \
    -DexcludeArtifactIds=jazzer,jmh-generator-annprocess,jtokkit,tokenizers,api,jna,gson,error_prone_annotations,commons-compress,commons-codec,commons-io \
    -Dmdep.prependGroupId=true >/dev/null
javacpp=$(sed -n "s:.*<javacpp.version>\(.*\)</javacpp.version>.*:\1:p" pom.xml)
cp ~/.m2/repository/org/bytedeco/javacpp/"$javacpp"/javacpp-"$javacpp"-linux-x86_64.jar "$out/lib/"
mvn -B dependency:copy -Dartifact=org.junit.platform:junit-platform-console-standalone:1.14.1 \
    -DoutputDirectory="$out/lib" >/dev/null
cp -r target/classes "$out/classes"
# Only the GPU target of the host travels (default sm90: H100/H200), to stay within the carry limit.
for lib in "$out"/classes/org/qft4j/nativ/linux-x86_64-cuda-*; do
  [ "$lib" = "$out/classes/org/qft4j/nativ/linux-x86_64-cuda-${QFT4J_GPU_TARGET:-sm90}" ] || rm -rf "$lib"
done
find "$out/classes/org/qft4j/nativ" -name '*.so' -exec strip --strip-unneeded {} +
if [ "$what" = sotu ]; then
  # run.sh sotu's token files (the host has no ../shared and no jtokkit): GPT-2 BPE of the State of the Union
  # addresses, gzipped (8.3 MB of int32 -> 3.1 MB).
  bench/gpu-host/sotu-tokens.sh "$out/sotu" "$shared/data/sotu" >/dev/null
  gzip -9 "$out/sotu/train.i32" "$out/sotu/val.i32"
else
  cp -r target/test-classes "$out/test-classes"
  # The native benches are not packed (8 MiB): run.sh builds them on the GPU host, whose toolkit has the cuBLASLt peer.
  mkdir -p "$out/shared/data"
  cp -r "$shared/models" "$shared/reference" "$out/shared/"
  cp -r "$shared/data/moby-dick" "$out/shared/data/"
fi
# The device tool refuses more than 64 MiB of working tree (git's files, untracked ones included) plus carried paths.
size=$(( $(du -sb "$out" | cut -f1) + $(git ls-files -co --exclude-standard -z | xargs -0 stat -c %s | paste -sd+ | bc) ))
echo "$out plus the working tree: $((size >> 20)) MiB of the device tool's 64"
[ "$size" -le $((63 << 20)) ] || { echo "too large for the device tool: drop something from $out" >&2; exit 1; }
