#!/usr/bin/env bash
# Issue 15's one prepared GPU run: the Qwen3-TTS bench at full size with random weights,
# CUDA graphs off then on (scripts/bench_qwen_gpu.py), on the device machine's own
# python3 with the pinned wheels of wheels.txt beside it. Its output and JSON go to $OUT.
#
# Then `autortc tts-regress --engine qwen` at the same size, graphs on (its gates: the
# stream within the stated LSB, determinism, graphs on vs off, fallbacks), for at most
# REGRESS_S (default 90; 0 skips it); its summary goes to $OUT/tts_regress_summary.json.
#
# On the device machine, from the repo root, after `make qwen-wheels` here:
#   run(command="bash scripts/qwen_device/run.sh", carry=[".whl"], timeout_s=420)
# BUDGET_S (default 200, half per mode) stops the bench starting new phases, and
# timeout stops it 90 s later; the JSON is rewritten after every phase, so a run cut
# short still brings its figures back. Read them with scripts/qwen_device/check.py --gpu.
#
# The CPU dry run (make qwen-device-dryrun) calls it with PY, WHEELS, OUT, SITE and
# the bench's arguments for the tiny size on the CPU.
set -uo pipefail
PY=${PY:-python3}
WHEELS=${WHEELS:-.whl}
OUT=${OUT:-output/bench/qwen_device}
SITE=${SITE:-/tmp/qwen_site}
BUDGET_S=${BUDGET_S:-200}
REGRESS_S=${REGRESS_S:-90}
REGRESS_OPTS=${REGRESS_OPTS:-size=full device=cuda cuda_graphs=true}
here=$(cd "$(dirname "$0")" && pwd)

main() {
  echo "qwen device run: $(date -u +%FT%TZ), budget ${BUDGET_S} s, bench args: $*"
  local want have
  want=$(grep -cv '^[[:space:]]*\(#\|$\)' "$here/wheels.txt")
  have=$(find "$WHEELS" -maxdepth 1 -type f -name '*.whl' 2>/dev/null | wc -l)
  if [ "$have" -ne "$want" ]; then
    echo "run.sh: $have wheels in $WHEELS for $want pins: run make qwen-wheels first" >&2
    return 2
  fi
  rm -rf "$SITE"
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$SITE" "$WHEELS"/*.whl || return 2
  export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  fi
  "$PY" -c "import sys, torch, transformers; print('python', sys.version.split()[0], \
'torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available(), \
'transformers', transformers.__version__, transformers.__file__)" || return 2
  timeout $((BUDGET_S + 90)) "$PY" scripts/bench_qwen_gpu.py \
    --out "$OUT/qwen_gpu.json" --budget-s "$BUDGET_S" "$@"
  local rc=$?
  echo "run.sh: bench exit $rc; JSON: $OUT/qwen_gpu.json"
  local regress_rc=0
  if [ "$REGRESS_S" -gt 0 ]; then
    local opts=() o
    for o in $REGRESS_OPTS; do opts+=(--engine-opt "$o"); done
    rm -rf "$SITE.regress"
    timeout "$REGRESS_S" "$PY" -m agent.tts_regress --engine qwen "${opts[@]}" --runs 2 \
      --no-baseline --out "$SITE.regress"
    regress_rc=$?
    echo "run.sh: tts-regress exit $regress_rc (124: cut at ${REGRESS_S} s)"
    cp "$SITE.regress/summary.json" "$OUT/tts_regress_summary.json" 2>/dev/null
  fi
  [ "$rc" -ne 0 ] && return "$rc"
  return "$regress_rc"
}

mkdir -p "$OUT"
main "$@" 2>&1 | tee -a "$OUT/run.log"
exit "${PIPESTATUS[0]}"
