#!/usr/bin/env bash
# The performance benchmarks on one GPU in under 5 minutes of device time, then one table:
#   1. bench/fusion.py   fusion step fp32 / bf16 vs the authors' fixed padding, matmul peaks (~1 min)
#   2. bench/pipeline.py the whole job both ways at paper sizes, fp32 and bf16 (~1.5 min)
#   3. bench/gpu_e2e.py  extract (paper-size random-init encoders on the GPU) -> train one epoch ->
#                        publish -> predict, fp32 and bf16, through the CLI (~2 min)
# Each stage has its own time limit (LIMIT seconds, default 150), so one slow stage cannot eat the
# budget; a stage that fails or times out is marked in the table and the others still run.
#
#   bench/gpu.sh                     # on the GPU machine (default --device cuda)
#   bench/gpu.sh --device cpu --tiny # the same path on a CPU at toy sizes (smoke test; ~17 min on the
#                                    # loaded 2-core CPU it was tried on, LIMIT=900)
#
# Status: UNRUN on a GPU so far (only the `--device cpu --tiny` path has been run).
# Logs: $OUT (default: a new temporary directory), one file per stage.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
[ -x "$PY" ] || PY=python3
DEVICE=cuda
TINY=0
while [ $# -gt 0 ]; do
  case "$1" in
    --device) DEVICE=$2; shift 2 ;;
    --tiny) TINY=1; shift ;;
    *) echo "usage: bench/gpu.sh [--device cuda|cpu] [--tiny]" >&2; exit 2 ;;
  esac
done
export HF_HUB_OFFLINE=1
OUT=${OUT:-$(mktemp -d)}
LIMIT=${LIMIT:-150}
mkdir -p "$OUT"
: > "$OUT/stages"

stage() { # stage NAME CMD... : run with a time limit, log to $OUT/NAME.log, record status + seconds
  local name=$1; shift
  local t0=$SECONDS rc=0
  echo "== $name: $*" >&2
  timeout "$LIMIT" "$@" > "$OUT/$name.log" 2>&1 || rc=$?
  local status=ok
  [ "$rc" -eq 124 ] && status="TIMEOUT(${LIMIT}s)"
  [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ] && status="FAILED(rc $rc)"
  printf '%-14s %-16s %5ss\n' "$name" "$status" "$((SECONDS - t0))" >> "$OUT/stages"
}

if [ "$TINY" = 1 ]; then
  FUSION=(--tiny --steps 1 --batches 1)
  PIPE=(--tiny --items 8 --steps 1)
  E2E=(--tiny --items 12)
else
  FUSION=(--steps 5 --batches 2)
  PIPE=(--items 32 --steps 3)
  E2E=(--items 24)
fi

[ "$DEVICE" = cuda ] && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader > "$OUT/gpu.txt" 2>&1
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'bf16', torch.cuda.is_available() and torch.cuda.is_bf16_supported())" >> "$OUT/gpu.txt" 2>&1

stage fusion "$PY" bench/fusion.py --device "$DEVICE" --fixed-padding --bf16 --no-compile "${FUSION[@]}"
stage pipeline-fp32 "$PY" bench/pipeline.py --device "$DEVICE" "${PIPE[@]}"
stage pipeline-bf16 "$PY" bench/pipeline.py --device "$DEVICE" --bf16 "${PIPE[@]}"
stage e2e "$PY" bench/gpu_e2e.py --device "$DEVICE" "${E2E[@]}"

echo
echo "benchmarks on $DEVICE$([ "$TINY" = 1 ] && echo ' (TINY smoke sizes: not figures)'): $(tr '\n' ' ' < "$OUT/gpu.txt")"
echo "stage          status           time"
cat "$OUT/stages"
echo
echo "-- fusion (ms/step min; ratios measured side by side)"
grep -E '^\((a|b|a-loop|b-fixed|a-bf16)\)|^matmul peak|^bf16 vs fp32|^authors' "$OUT/fusion.log" 2>/dev/null | sed 's/^/  /'
for p in fp32 bf16; do
  echo "-- pipeline, sseft side $p (EXTRAPOLATED: 20 epochs x 10,000 items)"
  grep -E '^(authors|sseft):|^  (authors|sseft):|epochs from|total|ratio|store[:,]' "$OUT/pipeline-$p.log" 2>/dev/null | sed 's/^/  /'
done
echo "-- tiny end-to-end job (CLI)"
sed -n '/tiny end-to-end job/,$p' "$OUT/e2e.log" 2>/dev/null | sed 's/^/  /'
echo
echo "logs: $OUT"
grep -q -v ' ok ' "$OUT/stages" && exit 1
exit 0
