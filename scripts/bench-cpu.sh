#!/usr/bin/env bash
# drape's native CPU backend next to the PyTorch reference and to ONNX Runtime (the reference exported
# with torch.onnx.export(dynamo=True)) on the same weights, in one run, with the same number of threads
# each; prints images/s and GFLOP/s and drape's ratio to each per batch size.
#   scripts/bench-cpu.sh              the bundled model (models/clothing), batches 1, 8, 32
#   scripts/bench-cpu.sh --config-f   also the 256 px config-F-sized network (random weights; minutes)
# THREADS (default 2), BATCHES (default 1,8,32) and DRAPE (default target/release/drape) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${THREADS:-2}
batches=${BATCHES:-1,8,32}
drape=${DRAPE:-target/release/drape}
python=.venv/bin/python
models=(models/clothing)
if [ "${1:-}" = "--config-f" ]; then
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  "$python" -m training.bench --config-f-256 --save "$scratch/bench-f256" --batch 1 --runs 1 --warmup 0 >/dev/null
  models+=("$scratch/bench-f256")
fi
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $threads threads each"
for model in "${models[@]}"; do
  echo "== $model"
  # drape: "<label> batch   8:  123.456 images/s,   45.67 GFLOP/s (...)"
  "$drape" bench --backend cpu --threads "$threads" --model "$model" --batch "$batches" --seconds 3 2>/dev/null \
    | sed -nE 's/.* batch +([0-9]+): +([0-9.]+) images\/s, +([0-9.]+) GFLOP\/s.*/\1 \2 \3/p' >"${TMPDIR:-/tmp}/drape-bench.$$"
  # PyTorch: "batch  sec/batch  images/s  GFLOP/s" rows
  OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads "$python" -m training.bench --model "$model" \
      --batch "$batches" --device cpu --runs 5 \
    | awk '/^ *[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$/ {print $1, $3, $4}' >"${TMPDIR:-/tmp}/torch-bench.$$"
  # ONNX Runtime on the same network, exported from the reference (the same table)
  OMP_NUM_THREADS=$threads "$python" -m training.bench --model "$model" --batch "$batches" --device cpu \
      --runs 5 --runtime onnxruntime --threads "$threads" 2>/dev/null \
    | awk '/^ *[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$/ {print $1, $3, $4}' >"${TMPDIR:-/tmp}/ort-bench.$$"
  printf '%6s %12s %14s %14s %15s %10s %10s\n' batch "drape img/s" "drape GFLOP/s" "PyTorch img/s" \
    "ONNXRT img/s" "÷PyTorch" "÷ONNXRT"
  join "${TMPDIR:-/tmp}/drape-bench.$$" "${TMPDIR:-/tmp}/torch-bench.$$" | join - "${TMPDIR:-/tmp}/ort-bench.$$" \
    | awk '{printf "%6d %12.2f %14.1f %14.2f %15.2f %10.2f %10.2f\n", $1, $2, $3, $4, $6, $2 / $4, $2 / $6}'
  rm -f "${TMPDIR:-/tmp}/drape-bench.$$" "${TMPDIR:-/tmp}/torch-bench.$$" "${TMPDIR:-/tmp}/ort-bench.$$"
done
