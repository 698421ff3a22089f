#!/usr/bin/env bash
# Runs on the GPU host from the repository root, over the .gpu/ folder that pack.sh made:
#   bench/gpu-host/run.sh tests   the JUnit tests tagged "gpu" (each checks a CUDA kernel against its CPU reference)
#   bench/gpu-host/run.sh bench   builds the native kernel benches here (nvcc + cmake, with cuBLASLt) and runs each
#   bench/gpu-host/run.sh peer    the PyTorch training peer (torch_peer.py) at the issue-10 shapes: needs only python3 + torch
#   bench/gpu-host/run.sh train   qft4j's training bench (org.qft4j.bench.TrainBench) and the peer at the same shapes, one
#                                 table with the ratios (TRAIN_MODELS="tiny 125m 1b 7b" picks the shapes, TRAIN_POLICIES="stash
#                                 fused" qft4j's update policies, TRAIN_BACKWARD="fp32 int8-input int8" its backward matmuls,
#                                 TRAIN_FP32_MATH="fp32 tf32" the arithmetic of its fp32 products (default tf32),
#                                 TRAIN_OUTLIERS="fp32-sparse int8" how it multiplies the outliers (default int8),
#                                 TRAIN_PEER_MODES="bf16-adamw fp32-adamw" the peer's; needs only .gpu/jre, .gpu/lib's javacpp jars and .gpu/classes)
#   bench/gpu-host/run.sh sotu    issue 10's loss curve on real text: QFT 125m (TrainBench --tokens, stash policy) and the
#                                 peer's bf16 AdamW and bf16 Lion on the same windows of the State of the Union token files
#                                 'pack.sh sotu' put in .gpu/sotu, with validation; the JSONL logs, their JSON summaries and the table sotu-summary.md
#                                 (SOTU_STEPS, SOTU_BATCH, SOTU_SEQ change the run; the plot is drawn where the runtime has AWT)
#   bench/gpu-host/run.sh jmh ARGS the JMH benches with JMH's arguments, e.g. 'Int8MatmulGpuBench' or
#                                 'LinearBackwardBench -p caseSpec=cuda:2048:4096x4096,cuda:2048:11008x4096 -p mode=FP32,INT8_INPUT,INT8'
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
  # Built here rather than packed: the GPU host's CUDA toolkit has cuBLASLt, the peer every bench times
  # (sm90 only, a few minutes). Without nvcc or cmake there are no benches to run.
  nvcc=$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)
  b=.gpu/host-build
  if command -v cmake >/dev/null && [ -x "$nvcc" ] &&
     { cmake -S native -B "$b" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CUDA_COMPILER="$nvcc" -DQFT4J_CUDA=ON \
         -DQFT4J_CUDA_TARGETS=sm90 -DQFT4J_RESOURCE_DIR="$PWD/$b/resources" -DQFT4J_BENCH_DIR="$PWD/.gpu/native-bench" &&
       cmake --build "$b" -j "$(nproc)" && cmake --install "$b"; } >"$out/bench-build.txt" 2>&1; then
    grep -m1 "cuBLASLt peer" "$out/bench-build.txt"
  else
    echo "building the native benches failed or nvcc/cmake are missing (see $out/bench-build.txt)"
    status=1
  fi
  for b in .gpu/native-bench/bin/*; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b")"
    "$b" 2>&1 | tee "$out/$(basename "$b").txt" || status=1
  done
fi
# One training run: its stdout is one JSON line, appended to $jsonl with the driver's peak memory.used (nvidia-smi
# sampled every 50 ms, whole GPU) as driver_peak_gib; a run that prints no line gets a "fits": false line.
train_run() {  # impl mode model batch seq recompute -- command...
  local impl=$1 mode=$2 model=$3 batch=$4 seq=$5 recompute=$6 smi res rc mib sampler
  shift 7
  smi=$(mktemp) res=$(mktemp)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 50 >"$smi" 2>/dev/null &
  sampler=$!
  timeout "${TRAIN_TIMEOUT:-200}" "$@" >"$res" 2>>"$out/train.err"
  rc=$?
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
  mib=$(sort -n "$smi" | tail -1)
  grep -q '^{' "$res" || echo "{\"impl\": \"$impl\", \"mode\": \"$mode\", \"model\": \"$model\", \"batch\": $batch, \"seq\": $seq,"\
    "\"recompute\": $recompute, \"fits\": false, \"error\": \"exit status $rc and no result (see train.err)\"}" >"$res"
  grep '^{' "$res" | python3 bench/gpu-host/train_table.py annotate driver_peak_gib "$(awk -v m="${mib:-}" 'BEGIN { if (m != "") print m / 1024 }')" |
    tee -a "$jsonl"
  rm -f "$smi" "$res"
}

if [ "$what" = train ]; then
  # One process per run, so each allocator's peak is its own; shapes and batches as the peer's rows above.
  jsonl="$out/train.jsonl"
  : >"$jsonl"
  # --recompute-segments (qft4j only: every ceil(sqrt(L))-th block input kept) is the 7B memory row; the peer has no such mode.
  for run in "tiny 2 256" "125m 8 1024" "1b 1 2048" "1b 4 2048 --recompute" "7b 1 2048 --recompute" "7b 1 2048 --recompute-segments"; do
    set -- $run
    case " ${TRAIN_MODELS:-tiny 125m 1b 7b} " in *" $1 "*) ;; *) continue ;; esac
    recompute=false
    [ -n "${4:-}" ] && recompute=true
    echo "== $run" >&2
    for policy in ${TRAIN_POLICIES:-stash fused}; do
      for backward in ${TRAIN_BACKWARD:-fp32 int8}; do
        for math in ${TRAIN_FP32_MATH:-tf32}; do
          for outliers in ${TRAIN_OUTLIERS:-int8}; do
            train_run qft4j "qft-lion-$policy" "$1" "$2" "$3" $recompute -- "$java" "${flags[@]}" -cp ".gpu/classes:.gpu/lib/*" \
              org.qft4j.bench.TrainBench --device cuda --model "$1" --batch "$2" --seq "$3" --policy "$policy" --backward "$backward" \
              --fp32-math "$math" --outliers "$outliers" --warmup 1 --steps "$([ "$1" = 7b ] && echo 1 || echo 3)" ${4:-}
          done
        done
      done
    done
    [ "${4:-}" = --recompute-segments ] && continue
    for mode in ${TRAIN_PEER_MODES:-bf16-adamw fp32-adamw}; do
      train_run torch $mode "$1" "$2" "$3" $recompute -- python3 bench/gpu-host/torch_peer.py --model "$1" --mode $mode \
        --batch "$2" --seq "$3" --warmup 2 --steps 5 ${4:-}
    done
  done
  python3 bench/gpu-host/train_table.py table "$jsonl" | tee "$out/train-table.txt"
fi
if [ "$what" = sotu ]; then
  # Learning rates: AdamW 6e-4, weight decay 0.1 (GPT-2 small's / nanoGPT's); Lion 1e-4 = AdamW's / 6 with weight decay
  # 0.6, so that lr * decay matches (Lion paper sec. 5: 3-10x smaller lr, 3-10x larger decay); same warmup + cosine.
  # SOTU_QFT_LR / SOTU_QFT_WD change both Lion runs; SOTU_BACKWARD=int8-input|int8 QFT's backward matmuls,
  # SOTU_FP32_MATH=fp32|tf32 (default tf32) its fp32 products, SOTU_OUTLIERS=fp32-sparse|int8 (default int8) its outliers'. Time (H100, train-h100.md: 125m 8x1024 at 9.9k tokens/s): 300 QFT
  # steps ~250 s, each peer run ~15 s plus start-up.
  steps=${SOTU_STEPS:-300} batch=${SOTU_BATCH:-8} seq=${SOTU_SEQ:-1024}
  tok=$(mktemp -d)
  gunzip -c .gpu/sotu/train.i32.gz >"$tok/train.i32" && gunzip -c .gpu/sotu/val.i32.gz >"$tok/val.i32" ||
    { echo "no .gpu/sotu token files: pack with 'bench/gpu-host/pack.sh sotu'" >&2; exit 1; }
  common=(--model 125m --batch "$batch" --seq "$seq" --steps "$steps" --lr-warmup $((steps / 10)) --min-lr-fraction 0.1
          --eval-every 25 --val-windows 16 --seed 1 --tokens "$tok/train.i32" --val-tokens "$tok/val.i32")
  timeout "${SOTU_QFT_TIMEOUT:-420}" "$java" "${flags[@]}" -cp ".gpu/classes:.gpu/lib/*" org.qft4j.bench.TrainBench --device cuda \
    --policy stash --backward "${SOTU_BACKWARD:-fp32}" --fp32-math "${SOTU_FP32_MATH:-tf32}" --outliers "${SOTU_OUTLIERS:-int8}" --lr "${SOTU_QFT_LR:-1e-4}" --weight-decay "${SOTU_QFT_WD:-0.6}" \
    --log "$out/sotu-qft.jsonl" "${common[@]}" 2>"$out/sotu-qft.err" | tee "$out/sotu-qft.json" || status=1
  # The peer with AdamW (the baseline of the issue) and with Lion at QFT's settings (the control: QFT - bf16 Lion is
  # what INT8 costs, bf16 Lion - bf16 AdamW what the optimizer does).
  for run in "bf16-adamw 6e-4 0.1" "bf16-lion ${SOTU_QFT_LR:-1e-4} ${SOTU_QFT_WD:-0.6}"; do
    set -- $run
    timeout "${SOTU_PEER_TIMEOUT:-75}" python3 bench/gpu-host/torch_peer.py --mode "$1" --warmup 0 --lr "$2" --weight-decay "$3" \
      --log "$out/sotu-$1.jsonl" "${common[@]}" 2>"$out/sotu-$1.err" | tee "$out/sotu-$1.json" || status=1
  done
  rm -rf "$tok"
  runs=(torch-bf16-adamw="$out/sotu-bf16-adamw.jsonl" torch-bf16-lion="$out/sotu-bf16-lion.jsonl" qft4j-qft-lion="$out/sotu-qft.jsonl")
  "$java" -cp ".gpu/classes:.gpu/lib/*" org.qft4j.bench.CurveReport "${runs[@]}" | tee "$out/sotu-summary.md" || status=1
  title="125m on SOTU (GPT-2 BPE), ${batch}x${seq}, $steps steps, H100"
  if grep -q java.desktop .gpu/jre/release; then
    "$java" -Djava.awt.headless=true -cp ".gpu/classes:.gpu/lib/*" org.qft4j.train.LossPlot --out "$out/sotu-loss.png" --title "$title" "${runs[@]}" || status=1
  else
    echo "plot (this runtime has no AWT), from the repository root where the logs came back to DIR:"
    echo "  java -cp target/classes org.qft4j.train.LossPlot --out bench/results/sotu-loss-h100.png --title '$title' ${runs[*]//$out/DIR}"
  fi
fi
if [ "$what" = jmh ]; then
  shift
  "$java" "${flags[@]}" -cp ".gpu/test-classes:.gpu/classes:.gpu/lib/*" org.openjdk.jmh.Main "$@" 2>&1 | tee "$out/jmh.txt"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
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
