#!/usr/bin/env bash
# One-call GPU training for seedface (issue 4): teacher -> distillation -> evaluation, sized for the device tool.
#
#   bash training/device/run.sh --prepare [--res 64] [--max-mib 40] [--resume-teacher CKPT]
#        here: pack a face subset into training/runs/gpu_pack/ (gitignored, carried) and print the `run` call
#   bash training/device/run.sh --gpu [--teacher-minutes 4] [--distill-minutes 2] [--preset small64]
#        [--pack training/runs/gpu_pack/faces64.npz] [--deadline 480] [--resume-teacher CKPT]
#        on the GPU box: train, distil, evaluate, leave <= 8 files of < 16 MiB in $OUT (no ONNX there)
#   bash training/device/run.sh --finish <fetched OUT dir> --id ID [--seeds 1000]
#        here: rebuild the checkpoints, export ONNX + int8 into models/<ID>, evaluate, write the report
#   bash training/device/run.sh --smoke [--keep DIR]
#        the same --gpu and --finish path on CPU at tiny scale (tiny preset, 200 faces, a few steps)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
if [ -x training/.venv/bin/python ] && training/.venv/bin/python -c "import torch" 2>/dev/null; then
  PY="$ROOT/training/.venv/bin/python"
else
  PY="$(command -v python3)"
fi
export PYTHONPATH="$ROOT/training${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

MODE="" RES=64 MAX_MIB=40 TM=4 DM=2 PRESET="" PACK="" DEADLINE=480 RESUME_T="" FETCHED="" ID="" SEEDS=1000
TSTEPS="" DSTEPS="" DEVICE=auto REAL=1000 KEEP="" TBATCH="" DBATCH="" DATA_ARG=""
while [ $# -gt 0 ]; do
  case "$1" in
    --prepare|--gpu|--smoke) MODE="${1#--}" ;;
    --finish) MODE=finish; FETCHED="$2"; shift ;;
    --res) RES="$2"; shift ;;
    --max-mib) MAX_MIB="$2"; shift ;;
    --teacher-minutes) TM="$2"; shift ;;
    --distill-minutes) DM="$2"; shift ;;
    --teacher-steps) TSTEPS="$2"; shift ;;
    --distill-steps) DSTEPS="$2"; shift ;;
    --teacher-batch) TBATCH="$2"; shift ;;
    --distill-batch) DBATCH="$2"; shift ;;
    --preset) PRESET="$2"; shift ;;
    --pack) PACK="$2"; shift ;;
    --deadline) DEADLINE="$2"; shift ;;
    --resume-teacher) RESUME_T="$2"; shift ;;
    --id) ID="$2"; shift ;;
    --seeds) SEEDS="$2"; shift ;;
    --real) REAL="$2"; shift ;;
    --device) DEVICE="$2"; shift ;;
    --data) DATA_ARG="$2"; shift ;;
    --keep) KEEP="$2"; shift ;;
    -h|--help) sed -n 2,14p "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$PRESET" ] || PRESET=$([ "$RES" = 128 ] && echo default128 || echo small64)
[ -n "$PACK" ] || PACK="training/runs/gpu_pack/faces${RES}.npz"

tree_bytes() {  # what the device tool sends: tracked + untracked-not-ignored files, plus the carried paths
  { git ls-files -co --exclude-standard -z; for p in "$@"; do find "$p" -type f -print0; done; } \
    | xargs -0 stat -c %s 2>/dev/null | awk '{s+=$1} END {print s+0}'
}

prepare() {
  local dir; dir="$(dirname "$PACK")"
  mkdir -p "$dir"
  local resume_arg=""
  if [ -n "$RESUME_T" ] && git ls-files --error-unmatch "$RESUME_T" >/dev/null 2>&1; then
    rm -f "$dir/teacher_resume.pt"  # committed (e.g. training/checkpoints/): it travels with the working tree
    resume_arg=" --resume-teacher $RESUME_T"
  elif [ -n "$RESUME_T" ]; then  # continue a teacher from an earlier GPU session: it travels in the same folder
    cp "$RESUME_T" "$dir/teacher_resume.pt"
    resume_arg=" --resume-teacher $dir/teacher_resume.pt"
  else
    rm -f "$dir/teacher_resume.pt"
  fi
  rm -f "$PACK"
  # what travels: the working tree + this folder; the pack gets what is left of ~60 MiB (at most --max-mib)
  local fixed; fixed=$(tree_bytes "$dir")
  local room=$(( (60 * 1048576 - fixed) / 1048576 ))
  [ "$room" -lt "${MAX_MIB%.*}" ] && MAX_MIB=$room
  [ "$MAX_MIB" -ge 4 ] || { echo "run.sh --prepare: no room for a face pack ($((fixed / 1048576)) MiB already)" >&2; exit 3; }
  "$PY" -m seedface.data --out "$PACK" --resolution "$RES" --max-mib "$MAX_MIB" --quality 90
  local bytes; bytes=$(tree_bytes "$dir")
  echo
  echo "working tree + $dir: $((bytes / 1048576)) MiB of the device tool's 64 MiB"
  if [ "$bytes" -gt $((62 * 1048576)) ]; then
    echo "WARNING: too large for the device tool: rerun with a smaller --max-mib" >&2
  fi
  cat <<MSG

Device call (one run; teacher ${TM} min + distillation ${DM} min + evaluation, ends within ${DEADLINE} s):
  run(command="bash training/device/run.sh --gpu --preset $PRESET --pack $PACK --teacher-minutes $TM --distill-minutes $DM --deadline $DEADLINE$resume_arg",
      carry=["$dir"], timeout_s=600)
then give_back, and here:
  bash training/device/run.sh --finish <files_at folder> --id <model id>
MSG
}

phase_log() {  # name seconds status -> phases.json (rewritten after every phase)
  PHASES="${PHASES:+$PHASES, }\"$1\": {\"seconds\": $2, \"status\": $3}"
  echo "{\"total_seconds\": $((SECONDS - start)), $PHASES}" > "$WORK/phases.json"
}

gpu() {
  local out="${OUT:-$ROOT/training/runs/gpu-out}"
  WORK="${WORK:-$ROOT/training/runs/gpu-work}"
  mkdir -p "$out" "$WORK"
  exec > >(tee -a "$WORK/run.log") 2>&1
  local start=$SECONDS; PHASES=""
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  "$PY" -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  if [ "$DEVICE" = auto ] && ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "run.sh --gpu: no CUDA device here (use --smoke for the CPU path)" >&2; exit 3
  fi
  [ -f "$PACK" ] || { echo "run.sh --gpu: pack $PACK missing (carry it; see --prepare)" >&2; exit 3; }
  # small networks are launch-bound on a big GPU: a larger batch costs little extra time per step
  [ -n "$TBATCH" ] || TBATCH=64
  [ -n "$DBATCH" ] || DBATCH=32
  local dev_args=(--device "$DEVICE") st=0 t0
  local targs=(--preset "$PRESET" --data "$PACK" --run "$WORK/teacher" --minutes "$TM" --grid-every 2 --ckpt-every 2
               --log-every 50)
  [ -n "$TSTEPS" ] && targs+=(--steps "$TSTEPS")
  [ -n "$TBATCH" ] && targs+=(--batch "$TBATCH")
  if [ -n "$RESUME_T" ]; then
    mkdir -p "$WORK/teacher"; cp "$RESUME_T" "$WORK/teacher/checkpoint.pt"; targs+=(--resume)
  fi
  t0=$SECONDS
  "$PY" -m seedface.train_teacher "${targs[@]}" "${dev_args[@]}" || st=$?
  if [ "$st" -ne 0 ] && [ ! -f "$WORK/teacher/checkpoint.pt" ]; then
    # insurance for a precision problem on a GPU never tried before: once more in fp32, in the time left
    local tleft; tleft=$("$PY" -c "print(round(max(0.5, $TM - ($SECONDS - $t0) / 60), 2))")
    echo "[run.sh] teacher failed (status $st): retrying with --amp none for $tleft min"
    st=0; "$PY" -m seedface.train_teacher "${targs[@]}" "${dev_args[@]}" --amp none --minutes "$tleft" || st=$?
  fi
  phase_log teacher $((SECONDS - t0)) "$st"
  "$PY" -m seedface.gpu_bundle pack "$WORK" "$out" || true  # the teacher comes back even if later phases die
  [ -f "$WORK/teacher/checkpoint.pt" ] || { echo "no teacher checkpoint: stopping" >&2; exit 4; }

  # what is left of the deadline, less ~90 s for evaluation and packing, caps the distillation
  local left=$((DEADLINE - (SECONDS - start) - 90)) dmin
  dmin=$("$PY" -c "print(round(max(0.2, min($DM, $left / 60)), 2))")
  local dargs=(--teacher "$WORK/teacher/checkpoint.pt" --run "$WORK/distill" --minutes "$dmin" --grid-every 2 --ckpt-every 2
               --log-every 25)
  [ -n "$DSTEPS" ] && dargs+=(--steps "$DSTEPS")
  [ -n "$DBATCH" ] && dargs+=(--batch "$DBATCH")
  echo "[run.sh] distillation budget ${dmin} min ($((SECONDS - start))s used of ${DEADLINE}s)"
  t0=$SECONDS; st=0
  "$PY" -m seedface.distill "${dargs[@]}" "${dev_args[@]}" || st=$?
  if [ "$st" -ne 0 ] && [ ! -f "$WORK/distill/checkpoint.pt" ]; then
    echo "[run.sh] distillation failed (status $st): retrying with --amp none"
    st=0; "$PY" -m seedface.distill "${dargs[@]}" "${dev_args[@]}" --amp none --minutes 0.5 || st=$?
  fi
  phase_log distill $((SECONDS - t0)) "$st"

  t0=$SECONDS; st=0
  if [ -f "$WORK/distill/checkpoint.pt" ]; then
    "$PY" -m seedface.evaluate "$WORK/distill" --seeds "$SEEDS" --real "$REAL" --data "$PACK" \
      --out "$WORK/report" --name gpu "${dev_args[@]}" || st=$?
  fi
  phase_log evaluate $((SECONDS - t0)) "$st"
  "$PY" -m seedface.gpu_bundle pack "$WORK" "$out"
  ls -la "$out"
}

finish() {
  [ -n "$ID" ] || { echo "run.sh --finish needs --id ID" >&2; exit 2; }
  local extra=()
  [ -n "$DATA_ARG" ] && extra+=(--data "$DATA_ARG")
  [ -n "${MODELS_DIR:-}" ] && extra+=(--models "$MODELS_DIR")
  [ -n "${RUNS_DIR:-}" ] && extra+=(--runs "$RUNS_DIR")
  [ -n "${REPORTS_DIR:-}" ] && extra+=(--reports "$REPORTS_DIR")
  "$PY" -m seedface.gpu_bundle finish "$FETCHED" --id "$ID" --seeds "$SEEDS" "${extra[@]}"
}

smoke() {
  local dir="${KEEP:-$(mktemp -d /tmp/seedface-smoke.XXXXXX)}"
  mkdir -p "$dir"
  "$PY" -m seedface.data --out "$dir/runs/pack.npz" --resolution 64 --limit 200 --holdout 64 --max-mib 5 2>/dev/null
  OUT="$dir/out" WORK="$dir/work" PACK="$dir/runs/pack.npz" PRESET=tiny TM=2 DM=2 TSTEPS="${TSTEPS:-24}"
  DSTEPS="${DSTEPS:-16}" TBATCH=4 DBATCH=4 DEVICE=cpu SEEDS=32 REAL=64 DEADLINE=600 RESUME_T=""
  ( gpu )  # a subshell: gpu() redirects its output into its run log
  MODELS_DIR="$dir/models" RUNS_DIR="$dir/runs" REPORTS_DIR="$dir/reports" FETCHED="$OUT" ID=smoke DATA_ARG="$PACK"
  finish
  echo "[run.sh] smoke run done in ${SECONDS}s: $dir/models/smoke"
}

case "$MODE" in
  prepare) prepare ;;
  gpu) gpu ;;
  finish) finish ;;
  smoke) smoke ;;
  *) sed -n 2,14p "$0"; exit 2 ;;
esac
