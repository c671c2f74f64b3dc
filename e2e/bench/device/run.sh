#!/usr/bin/env bash
# GPU device check: the one command the GPU machine runs (README.md, "GPU device check").
#
#   bash e2e/bench/device/run.sh [PARTS_DIR]        (default: .gpu-bundle, carried by the device tool)
#
# Each call carries parts.sha256 and one part. Until every part listed there is present, it only says
# which parts it has and exits 0 (the machine keeps them while it stays warm). With all of them it
# checks their sha256, unpacks the bundle into $BIJ_DEVICE_WORK (default /tmp/bij-device; kept, and
# not unpacked again, while the machine stays warm) and runs, with the bundle's own Node and no
# registry:
#   probe  onnxruntime-node's CUDA provider creates a session and runs the small model
#   (a)    the same job through the worker's production entry point on CUDA and on the CPU, every score
#          compared: the small MLP on every row, the wide MLP on the first BIJ_DEVICE_CMP_ROWS rows,
#          float32 within 1e-3 (ONNX Runtime's CUDA provider computes float32 MatMul in TF32 by default),
#          the float16 model on CUDA against the float32 model on the CPU within 1e-2
#   (b)    the worker bench with the CUDA provider, decoders and intra-op threads at the machine's core
#          count: decode, inference, write, end to end, model busy
#   (c)    the anchor (anchor.py: pyarrow + PyTorch on CUDA, reader thread, Parquet out) on the same
#          Parquet and weights, and our end to end / the anchor's
#   (d)    (b) and (c) again for the wide MLP (BIJ_DEVICE_WIDE) in float32 and in float16
# and a closing table. Without a GPU (the dry run) it says "no GPU here", runs every step with the CPU
# provider (the probe is expected to fail on the missing CUDA libraries) at smaller sizes, and the
# anchor's model runs in numpy when PyTorch is missing. Logs and summary.json go to $OUT (the device
# tool brings them back) or $BIJ_DEVICE_WORK/results. Python is used for the anchor only.
set -uo pipefail

PARTS=${1:-${BIJ_DEVICE_PARTS:-.gpu-bundle}}
WORK=${BIJ_DEVICE_WORK:-/tmp/bij-device}
RESULTS=${OUT:-$WORK/results}
PY=${PYTHON:-python3}
mkdir -p "$WORK" "$RESULTS"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
FAILED=()

# step NAME SECONDS CMD...: runs one step with a time limit, prints its time, and goes on after a failure.
step() {
  local name=$1 limit=$2 t
  shift 2
  t=$(now)
  echo
  echo "== $name"
  timeout "$limit" "$@"
  local rc=$?
  echo "-- $name: rc $rc, $(since "$t") s"
  [ $rc -eq 0 ] || FAILED+=("$name (rc $rc)")
  return $rc
}

main() {
  local t0 manifest names missing=() stamp B
  t0=$(now)
  manifest=$PARTS/parts.sha256
  if [ ! -f "$manifest" ]; then
    echo "no $manifest: carry .gpu-bundle/parts.sha256 with every part (e2e/bench/device/assemble.ts makes them)"
    return 2
  fi
  names=$(awk '{ print $2 }' "$manifest")
  for n in $names; do [ -f "$PARTS/$n" ] || missing+=("$n"); done
  local total
  total=$(echo "$names" | wc -w)
  if [ ${#missing[@]} -gt 0 ]; then
    echo "bundle parts: $((total - ${#missing[@]})) of $total here; still to carry: ${missing[*]}"
    echo "(the machine keeps them only while it stays warm: make the next call at once)"
    return 0
  fi
  (cd "$PARTS" && sha256sum -c --quiet parts.sha256) || { echo "a bundle part differs from parts.sha256: assemble and carry them again"; return 2; }

  B=$WORK/bundle
  stamp=$(sha256sum < "$manifest" | cut -c1-16)
  if [ "$(cat "$B/.stamp" 2>/dev/null)" != "$stamp" ]; then
    local tu
    tu=$(now)
    rm -rf "$B" && mkdir -p "$B"
    local files=()
    for n in $names; do files+=("$PARTS/$n"); done
    if command -v xz >/dev/null; then
      cat "${files[@]}" | xz -dc -T0 | tar -x --ignore-zeros -C "$B" || { echo "unpacking the bundle failed"; return 2; }
    else
      cat "${files[@]}" | "$PY" -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.stdin.buffer), sys.stdout.buffer)' | tar -x --ignore-zeros -C "$B" \
        || { echo "unpacking the bundle failed"; return 2; }
    fi
    echo "$stamp" > "$B/.stamp"
    echo "bundle unpacked into $B in $(since "$tu") s ($(du -sm "$B" | cut -f1) MiB)"
  else
    echo "bundle already unpacked in $B"
  fi
  cat "$B/device/versions.json"
  local NODE=$B/node JOB=$WORK/job J=$WORK/json
  mkdir -p "$J"
  echo "node $("$NODE" --version) (the bundle's); cores $(nproc); $(uname -srm)"

  # The GPU, and NVIDIA's CUDA 13 libraries from the machine's Python packages (the driver's libcuda.so.1
  # is the system's).
  local EP TDEV ROWS CMP WIDE ROUNDS=
  if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv,noheader
    EP=cuda TDEV=cuda
    ROWS=${BIJ_DEVICE_ROWS:-1048576} CMP=${BIJ_DEVICE_CMP_ROWS:-65536} WIDE=${BIJ_DEVICE_WIDE:-16,4096,4096,4096,2}
    unset BIJ_DEVICE_DRY
  else
    echo "no GPU here (no nvidia-smi, or it lists no GPU): dry run. Every CUDA step runs with the CPU provider at smaller sizes;"
    echo "its figures measure this machine's CPU, not a GPU, and the CUDA probe is expected to fail on the missing CUDA libraries."
    EP=cpu TDEV=cpu
    ROWS=${BIJ_DEVICE_ROWS:-65536} CMP=${BIJ_DEVICE_CMP_ROWS:-8192} WIDE=${BIJ_DEVICE_WIDE:-16,128,128,2}
    ROUNDS=${BIJ_DEVICE_ROUNDS:-1}
    export BIJ_DEVICE_DRY=1
  fi
  ROUNDS=${ROUNDS:-${BIJ_DEVICE_ROUNDS:-3}}
  local nvlibs
  nvlibs=$("$PY" - <<'EOF' 2>/dev/null
import glob, os, site
roots = site.getsitepackages() + [site.getusersitepackages()]
dirs = sorted({os.path.dirname(f) for r in roots for f in glob.glob(os.path.join(r, "nvidia", "**", "lib*.so*"), recursive=True)})
print(":".join(dirs))
EOF
)
  export LD_LIBRARY_PATH=${nvlibs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  for lib in libcublasLt.so.13 libcublas.so.13 libcurand.so.10 libcudart.so.13 libcudnn.so.9 libcuda.so.1; do
    local where=""
    for d in ${nvlibs//:/ }; do [ -e "$d/$lib" ] && where=$d && break; done
    [ -z "$where" ] && ldconfig -p 2>/dev/null | grep -q "$lib" && where="(system)"
    echo "  $lib: ${where:-MISSING}"
  done
  "$PY" -c 'import sys, pyarrow; print("python", sys.version.split()[0], "pyarrow", pyarrow.__version__, end=" ")
try:
    import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
except ImportError:
    print("torch MISSING")' || echo "python or pyarrow missing: the anchor steps will fail"

  cd "$B" || return 2
  step prepare 300 "$NODE" dist/e2e/bench/device/prepare.js --out "$JOB" --rows "$ROWS" --cmp-rows "$CMP" --wide "$WIDE"

  # The provider itself: a session on CUDA alone (no fallback) that runs.
  if ! step "probe: CUDA provider" 120 "$NODE" --input-type=module -e "
    import ort from 'onnxruntime-node';
    import { readFileSync } from 'node:fs';
    console.log('onnxruntime-node', JSON.parse(readFileSync('node_modules/onnxruntime-node/package.json', 'utf8')).version);
    const s = await ort.InferenceSession.create(readFileSync('$JOB/models/small.onnx'), { executionProviders: ['cuda'] });
    const r = await s.run({ X: new ort.Tensor('float32', new Float32Array(64).fill(0.5), [4, 16]) });
    console.log('CUDA provider: session created and ran on cuda; probs[0] =', Array.from(r.probs.data.slice(0, 2)));
  "; then
    [ "$EP" = cpu ] && { echo "(expected without a GPU)"; unset 'FAILED[${#FAILED[@]}-1]'; }
  fi

  local M=$JOB/models
  step "(a) compare small: $EP vs cpu" 300 "$NODE" dist/e2e/bench/device/compare.js --data "$JOB/data" --model "$M/small.onnx" --out "$WORK/compare" --ep "$EP" --ref-ep cpu --tolerance 1e-3 --label small
  step "(a) compare wide float32: $EP vs cpu" 300 "$NODE" dist/e2e/bench/device/compare.js --data "$JOB/data-cmp" --model "$M/wide-fp32.onnx" --out "$WORK/compare" --ep "$EP" --ref-ep cpu --tolerance 1e-3 --label wide-fp32
  step "(a) compare wide float16 on $EP vs float32 on cpu" 300 "$NODE" dist/e2e/bench/device/compare.js --data "$JOB/data-cmp" --model "$M/wide-fp16.onnx" --ref-model "$M/wide-fp32.onnx" --out "$WORK/compare" --ep "$EP" --ref-ep cpu --tolerance 1e-2 --label wide-fp16

  local label model weights dtype name
  for label in small wide-fp32 wide-fp16; do
    case $label in
      small) model=$M/small.onnx weights=$M/small.weights.json dtype=float32 name="MLP 16-64-64-2" ;;
      wide-fp32) model=$M/wide-fp32.onnx weights=$M/wide.weights.json dtype=float32 name="MLP ${WIDE//,/-} float32" ;;
      wide-fp16) model=$M/wide-fp16.onnx weights=$M/wide.weights.json dtype=float16 name="MLP ${WIDE//,/-} float16" ;;
    esac
    step "(b) bench $label on $EP" 300 env BENCH_EP="$EP" BENCH_DATA="$JOB/data" BENCH_MODEL="$model" BENCH_MODEL_LABEL="$name" BENCH_DUCKDB=0 \
      BENCH_ROUNDS="$ROUNDS" BENCH_JSON="$J/bench-$label.json" "$NODE" dist/e2e/bench/bench.js
    step "(c) anchor $label: pyarrow + PyTorch on $TDEV" 300 "$PY" device/anchor.py --data "$JOB/data" --weights "$weights" --out "$WORK/anchor-out" \
      --device "$TDEV" --dtype "$dtype" --rounds "$ROUNDS" --label "$label" --json "$J/anchor-$label.json"
    "$NODE" dist/e2e/bench/device/summary.js "$J" "$label" | sed -n 2p
  done

  echo
  echo "== summary ($( [ "$EP" = cuda ] && echo "GPU: $(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)" || echo "dry run, no GPU: CPU provider, numbers are this CPU's" ), $(nproc) cores, $ROWS rows, wide MLP ${WIDE//,/-})"
  grep -h '^compare ' "$RESULTS/device-check.log" 2>/dev/null
  "$NODE" dist/e2e/bench/device/summary.js "$J" small wide-fp32 wide-fp16
  cp "$J/summary.json" "$RESULTS/summary.json" 2>/dev/null
  echo "total $(since "$t0") s; failed steps: ${FAILED[*]:-none}"
  [ ${#FAILED[@]} -eq 0 ]
}

main "$@" 2>&1 | tee "$RESULTS/device-check.log"
exit "${PIPESTATUS[0]}"
