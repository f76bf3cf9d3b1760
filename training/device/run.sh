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
# The edge student (issue 15: distilled from the release wheel, which does not fit the device tool):
#   bash training/device/run.sh --prepare-edge [--edge-run training/runs/edge_fast] [--fresh] [--dtype bf16]
#        here: the release teacher as a compact pack + the run's checkpoint into training/runs/gpu_edge/; prints the call
#   bash training/device/run.sh --gpu-edge --edge-pack PACK [--edge-resume CKPT] [--batch 64] [--deadline 480]
#        on the GPU box: distil until the deadline, leave checkpoint, grid, loss plot, log in $OUT
#   bash training/device/run.sh --finish-edge <fetched OUT dir> [--edge-run training/runs/edge_fast]
#        here: the checkpoint back into the run directory (npm run distill:edge -- --resume continues on CPU)
#   bash training/device/run.sh --smoke-edge [--keep DIR]
#        all three on CPU at 64 px, a few steps (training/tests/test_edge_gpu.py)
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
EDGE_RUN=training/runs/edge_fast EDGE_DIR=training/runs/gpu_edge EDGE_RES=256 EDGE_PACK="" EDGE_RESUME="" FRESH=0
DTYPE=bf16 BATCH=64 MINUTES="" EDGE_STEPS="" PSNR_SEEDS=4 THREADS=""
WHEEL=training/downloads/random_face-2021.7.21.1-py3-none-any.whl
# the fresh edge run's flags: those of `npm run distill:edge` (package.json; training/tests/test_edge_gpu.py checks)
EDGE_FLAGS=(--resolution 256 --student-channels 512,512,256,96,48,24 --init narrow --freeze-levels 2 --lr 6e-4
            --gan-weight 0 --perceptual face --perceptual-weight 1.0 --w-modes 2,1,0)
while [ $# -gt 0 ]; do
  case "$1" in
    --prepare|--gpu|--smoke|--prepare-edge|--gpu-edge|--smoke-edge) MODE="${1#--}" ;;
    --finish) MODE=finish; FETCHED="$2"; shift ;;
    --finish-edge) MODE=finish-edge; FETCHED="$2"; shift ;;
    --edge-run) EDGE_RUN="$2"; shift ;;
    --edge-dir) EDGE_DIR="$2"; shift ;;
    --edge-res) EDGE_RES="$2"; shift ;;
    --edge-pack) EDGE_PACK="$2"; shift ;;
    --edge-resume) EDGE_RESUME="$2"; shift ;;
    --fresh) FRESH=1 ;;
    --dtype) DTYPE="$2"; shift ;;
    --batch) BATCH="$2"; shift ;;
    --minutes) MINUTES="$2"; shift ;;
    --steps) EDGE_STEPS="$2"; shift ;;
    --psnr-seeds) PSNR_SEEDS="$2"; shift ;;
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
    -h|--help) sed -n 2,24p "$0"; exit 0 ;;
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

prepare_edge() {
  local resume_args=() call_resume=""
  if [ "$FRESH" = 0 ] && [ -f "$EDGE_RUN/checkpoint.pt" ]; then resume_args=(--resume "$EDGE_RUN/checkpoint.pt"); fi
  "$PY" -m seedface.edge_gpu prepare --teacher "$WHEEL" --resolution "$EDGE_RES" --out "$EDGE_DIR" --dtype "$DTYPE" \
    --psnr-seeds "$PSNR_SEEDS" "${resume_args[@]}" >/dev/null
  [ -f "$EDGE_DIR/resume.pt" ] && call_resume=" --edge-resume $EDGE_DIR/resume.pt"
  local bytes; bytes=$(tree_bytes "$EDGE_DIR")
  echo
  echo "working tree + $EDGE_DIR: $(awk "BEGIN {printf \"%.2f\", $bytes / 1048576}") MiB of the device tool's 64 MiB"
  if [ "$bytes" -gt $((127 * 524288)) ]; then  # 63.5 MiB: half a MiB of margin under the tool's 64
    echo "run.sh --prepare-edge: too large for the device tool: --dtype bf16, or --fresh (no checkpoint to resume)" >&2
    exit 3
  fi
  cat <<MSG

Device call (one run: distils until ${DEADLINE} s, batch ${BATCH}$([ -n "$call_resume" ] && echo ", continuing $EDGE_RUN" || echo ", a fresh narrow start")):
  run(command="bash training/device/run.sh --gpu-edge --edge-pack $EDGE_DIR/release${EDGE_RES}.pack$call_resume --batch $BATCH --deadline $DEADLINE",
      carry=["$EDGE_DIR"], timeout_s=600)
then give_back, and here:
  bash training/device/run.sh --finish-edge <files_at folder>$([ "$EDGE_RUN" != training/runs/edge_fast ] && echo " --edge-run $EDGE_RUN")
MSG
}

gpu_edge() {
  local out="${OUT:-$ROOT/training/runs/gpu-edge-out}"
  WORK="${WORK:-$ROOT/training/runs/gpu-edge-work}"
  rm -rf "$WORK/edge"
  mkdir -p "$out" "$WORK"
  exec > >(tee -a "$WORK/run.log") 2>&1
  local start=$SECONDS st=0
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
  "$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
  if [ "$DEVICE" = auto ] && ! "$PY" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "run.sh --gpu-edge: no CUDA device here (use --smoke-edge for the CPU path)" >&2; exit 3
  fi
  [ -n "$EDGE_PACK" ] || EDGE_PACK="$EDGE_DIR/release${EDGE_RES}.pack"
  [ -f "$EDGE_PACK" ] || { echo "run.sh --gpu-edge: pack $EDGE_PACK missing (carry it; see --prepare-edge)" >&2; exit 3; }
  # a GPU draws fresh teacher samples every step (--replay 0); a resumed run keeps its other hyperparameters
  local args=(--teacher "$EDGE_PACK" --run "$WORK/edge" --batch "$BATCH" --replay 0 --device "$DEVICE"
              --log-every 25 --grid-every 3 --ckpt-every 2)
  if [ -n "$EDGE_RESUME" ]; then args+=(--resume "$EDGE_RESUME"); else args+=("${EDGE_FLAGS[@]}"); fi
  [ -n "$EDGE_STEPS" ] && args+=(--steps "$EDGE_STEPS")
  [ -n "$THREADS" ] && args+=(--threads "$THREADS")
  # the deadline less ~60 s for startup (imports, pack, CUDA), the last grid and checkpoint, and collecting;
  # --minutes caps it further. A run still going at the deadline gets SIGTERM: it saves and stops (status 130).
  local left=$((DEADLINE - (SECONDS - start) - 60)) minutes
  minutes=$("$PY" -c "print(round(max(0.5, min(${MINUTES:-1e9}, $left / 60)), 2))")
  echo "[run.sh] edge distillation for ${minutes} min ($((SECONDS - start)) s used of ${DEADLINE} s)"
  timeout -s TERM -k 20 $((left + 45)) "$PY" -m seedface.distill "${args[@]}" --minutes "$minutes" || st=$?
  if [ "$st" -ne 0 ] && [ ! -f "$WORK/edge/checkpoint.pt" ]; then
    # insurance for a precision problem on a GPU never tried before: once more in fp32, in the time left
    left=$((DEADLINE - (SECONDS - start) - 60))
    echo "[run.sh] edge distillation failed (status $st): retrying with --amp none"
    st=0; minutes=$("$PY" -c "print(round(max(0.5, $left / 60), 2))")
    timeout -s TERM -k 20 $((left + 45)) "$PY" -m seedface.distill "${args[@]}" --amp none --minutes "$minutes" || st=$?
  fi
  [ -f "$WORK/edge/checkpoint.pt" ] || { echo "run.sh --gpu-edge: no checkpoint (status $st)" >&2; cp "$WORK/run.log" "$out/"; exit 4; }
  local cst=0
  "$PY" -m seedface.edge_gpu collect "$WORK/edge" --teacher "$EDGE_PACK" --out "$out" \
    --extra "{\"status\": $st, \"seconds\": $((SECONDS - start)), \"resumed\": $([ -n "$EDGE_RESUME" ] && echo true || echo false)}" >/dev/null || cst=$?
  echo "[run.sh] done in $((SECONDS - start)) s (distillation status $st, collect status $cst)"
  cp "$WORK/run.log" "$out/run.log"
  ls -la "$out"
  [ "$cst" -eq 0 ] || exit 5
}

finish_edge() {
  "$PY" -m seedface.edge_gpu finish "$FETCHED" --run "$EDGE_RUN" --teacher "$WHEEL" >/dev/null
  local run_arg=""
  [ "$EDGE_RUN" != training/runs/edge_fast ] && run_arg=" --run $EDGE_RUN"
  cat <<MSG

Next, on CPU: npm run distill:edge -- --resume --minutes 60$run_arg
  model: npm run export:edge --$run_arg, then npm run eval:edge -- $EDGE_RUN/model
MSG
}

smoke_edge() {
  [ -f "$WHEEL" ] || { echo "run.sh --smoke-edge: $WHEEL missing (npm run models:ffhq downloads it)" >&2; exit 3; }
  local dir="${KEEP:-$(mktemp -d /tmp/seedface-smoke-edge.XXXXXX)}" t0=$SECONDS
  mkdir -p "$dir"
  # a CPU run to continue: 64 px, the release's 8 and 16 px levels kept exactly (frozen)
  "$PY" -m seedface.distill --teacher "$WHEEL" --resolution 64 --student-channels 512,512,256,64 --init narrow \
    --freeze-levels 2 --replay 8 --replay-fresh 1 --batch 2 --gan-weight 0 --perceptual-weight 0 --steps 2 \
    --threads 1 --mean-samples 100 --grid-every 100 --ckpt-every 100 --log-every 1 --device cpu --run "$dir/edge" \
    > "$dir/cpu.log" 2>&1 || { tail -20 "$dir/cpu.log" >&2; exit 4; }
  EDGE_RUN="$dir/edge" EDGE_DIR="$dir/gpu_edge" EDGE_RES=64 PSNR_SEEDS=2 FRESH=0
  prepare_edge
  OUT="$dir/out" WORK="$dir/work" EDGE_PACK="$dir/gpu_edge/release64.pack" EDGE_RESUME="$dir/gpu_edge/resume.pt"
  DEVICE=cpu THREADS=1 BATCH=2 EDGE_STEPS=4 DEADLINE=600
  ( gpu_edge )  # a subshell: gpu_edge redirects its output into its run log
  FETCHED="$OUT"
  finish_edge
  echo "[run.sh] edge smoke run done in $((SECONDS - t0)) s: $dir/edge"
}

case "$MODE" in
  prepare) prepare ;;
  gpu) gpu ;;
  finish) finish ;;
  smoke) smoke ;;
  prepare-edge) prepare_edge ;;
  gpu-edge) gpu_edge ;;
  finish-edge) finish_edge ;;
  smoke-edge) smoke_edge ;;
  *) sed -n 2,24p "$0"; exit 2 ;;
esac
