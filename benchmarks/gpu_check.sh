#!/usr/bin/env bash
# The GPU check of issue 13, one script, under 8 minutes on one H100/H200 (see ../shared/gpu/README.md):
# the gpu tests, `lidcbench bench mtmr` (bf16, channels_last; without and with compile), one fold of the
# paper profile for a few epochs (seconds per epoch, images/s, the ratio to the bench, fixed cost per fold), and
# `lidcbench bench cnn3d` (paper profile, bf16).
#
#   before sending the checkout, on a machine with a registry:  bash ../shared/gpu/wheels.sh
#   on the GPU machine, from the project root:                  OUT=/some/dir bash benchmarks/gpu_check.sh
#   (through the device tool: command "bash benchmarks/gpu_check.sh", carry [".whl"], timeout_s 540)
#
# Every step has its own time limit and a failed step does not stop the others. What comes back is few
# files: $OUT/summary.txt, $OUT/logs.tgz (every step's log and the fold report) and the bench records
# under $OUT/results/bench/.
set -u -x
OUT=${OUT:-/tmp/lidcbench-gpu-check}
EPOCHS=${EPOCHS:-3}
BUDGET=${BUDGET:-450}  # seconds for all steps together; a step gets at most what is left
START=$(date +%s)
LOGS=$(mktemp -d /tmp/gpu-check-logs.XXXX)
mkdir -p "$OUT"
export LIDCBENCH_CACHE=${LIDCBENCH_CACHE:-$PWD/.lidcbench-cache}
PY=${PY:-python3}
step() {  # step NAME SECONDS COMMAND...: run with a time limit, log to $LOGS/NAME.log, note how it ended
  local name=$1 limit=$2; shift 2
  local started=$(date +%s)
  local left=$(( BUDGET - (started - START) ))
  if (( left < 30 )); then echo "$name: skipped, out of time" | tee -a "$LOGS/steps.txt"; return 0; fi
  (( limit > left )) && limit=$left
  timeout --kill-after=10 "$limit" "$@" > "$LOGS/$name.log" 2>&1
  local code=$?
  echo "$name: exit $code after $(( $(date +%s) - started )) s" | tee -a "$LOGS/steps.txt"
  tail -n 25 "$LOGS/$name.log"
  return 0
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$LOGS/gpu.txt"
if ls .whl/*.whl >/dev/null 2>&1; then
  step install 180 bash -c "$PY -m pip install -q --no-index --no-deps .whl/*.whl && \
    $PY -m pip install -q --no-index --no-deps --no-build-isolation -e ."
fi
$PY -c "import torch, lidcbench; print(torch.__version__, torch.version.cuda, lidcbench.__file__)" | tee "$LOGS/versions.txt"
LB="$PY -m lidcbench"

step gpu-tests 150 $PY -m pytest -m gpu -q -p no:cacheprovider tests
# The paper profile's 256 px patches, built once here (every core) so that no later step pays for them.
step cache-build 240 $LB cache build --size 256
step bench-bf16 150 $LB bench mtmr --device cuda --precision bf16 --channels-last --repeats 3 --seconds 2 \
  --out "$OUT/results"
BENCH=$(ls "$OUT"/results/bench/mtmr-paper-*-bf16-channels-last.json 2>/dev/null | head -n 1)
step fold-loop 150 $PY benchmarks/gpu_fold.py --method mtmr --epochs "$EPOCHS" ${BENCH:+--bench "$BENCH"}
# End to end as a user runs it: the difference to 2 x seconds per epoch is the fixed cost per fold.
step fold-run 150 $LB run mtmr --folds 0 --set epochs=2 --out "$LOGS/run" --force
# The 3D network of issue 24 (R3D-18, bf16); random cubes, so no volume cache to build first.
step bench-cnn3d 120 $LB bench cnn3d --device cuda --profile paper --precision bf16 --repeats 3 --seconds 2 \
  --no-loader --out "$OUT/results"
# compile last: its first steps compile for a minute or more, and the figures above must not wait for it.
step bench-bf16-compile 200 $LB bench mtmr --device cuda --precision bf16 --channels-last --compile --repeats 3 \
  --seconds 2 --no-loader --out "$OUT/results"
step fold-loop-compile 150 $PY benchmarks/gpu_fold.py --method mtmr --epochs "$EPOCHS" --set compile=True \
  ${BENCH:+--bench "$BENCH"}

set +x
{
echo "== steps"; cat "$LOGS/steps.txt"
echo "== fold (seconds per epoch, images/s, ratio to the bench)"
$PY - "$LOGS"/fold-loop*.log <<'PYEOF'
import json, sys
for path in sys.argv[1:]:
    text = open(path).read()
    try:
        report = json.loads(text[text.index("{\n"):])
    except ValueError:
        print(path, ": no fold report")
        continue
    print(path, json.dumps({k: report[k] for k in ("fixed", "epoch_s", "s_per_epoch_after_first", "images_per_s",
                                                   "batch_size", "training_images", "bench") if k in report}, indent=1))
PYEOF
echo "== bench records"; ls -la "$OUT"/results/bench/ 2>/dev/null
grep -h -A1 "reaches\|wrote" "$LOGS"/bench-*.log 2>/dev/null
grep -h "exit" "$LOGS/steps.txt" | grep -v "exit 0" && echo "(some steps failed: see their logs in logs.tgz)"
} 2>&1 | tee "$OUT/summary.txt"
tar -czf "$OUT/logs.tgz" -C "$LOGS" --exclude run .
exit 0
