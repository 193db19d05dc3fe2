#!/usr/bin/env bash
# drape's WGSL path on a GPU next to the PyTorch reference on CUDA, on the same weights, in one run; prints
# images/s and GFLOP/s and drape's ratio per batch size. Both compute in full float32 (PyTorch with TF32 off).
#   scripts/bench-gpu.sh              the bundled model (models/clothing), batches 1, 8, 32
#   scripts/bench-gpu.sh --config-f   also the 256 px config-F-sized network (random weights)
# BATCHES (default 1,8,32), DRAPE (default target/release/drape), PYTHON (default .venv/bin/python),
# ADAPTER (default: drape's choice, a hardware GPU) and TORCH_DEVICE (default cuda) may be set.
set -euo pipefail
cd "$(dirname "$0")/.."
batches=${BATCHES:-1,8,32}
drape=${DRAPE:-target/release/drape}
python=${PYTHON:-.venv/bin/python}
device=${TORCH_DEVICE:-cuda}
adapter=(${ADAPTER:+--adapter "$ADAPTER"})
models=(models/clothing)
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
if [ "${1:-}" = "--config-f" ]; then
  "$python" -m training.bench --config-f-256 --save "$scratch/bench-f256" --batch 1 --runs 1 --warmup 0 \
      --device cpu >/dev/null
  models+=("$scratch/bench-f256")
fi
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores"
"$drape" adapters 2>/dev/null | sed 's/^/drape adapters: /'
"$python" -c "import torch; print('PyTorch', torch.__version__, 'on', torch.cuda.get_device_name() if torch.cuda.is_available() else 'no CUDA device')"
for model in "${models[@]}"; do
  echo "== $model"
  # drape: "<label> batch   8:  123.456 images/s,   45.67 GFLOP/s (...)"
  "$drape" bench --backend gpu "${adapter[@]}" --model "$model" --batch "$batches" --seconds 3 2>&1 \
    | tee "$scratch/drape.log" \
    | sed -nE 's/.* batch +([0-9]+): +([0-9.]+) images\/s, +([0-9.]+) GFLOP\/s.*/\1 \2 \3/p' >"$scratch/drape"
  grep -iE "adapter|backend" "$scratch/drape.log" | head -3 || true
  # PyTorch: "batch  sec/batch  images/s  GFLOP/s" rows
  "$python" -m training.bench --model "$model" --batch "$batches" --device "$device" --warmup 3 --runs 20 \
    | awk '/^ *[0-9]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$/ {print $1, $3, $4}' >"$scratch/torch"
  printf '%6s %12s %14s %14s %16s %10s\n' batch "drape img/s" "drape GFLOP/s" "PyTorch img/s" "PyTorch GFLOP/s" \
    "÷PyTorch"
  join "$scratch/drape" "$scratch/torch" \
    | awk '{printf "%6d %12.2f %14.1f %14.2f %16.1f %10.2f\n", $1, $2, $3, $4, $5, $2 / $4}'
done
