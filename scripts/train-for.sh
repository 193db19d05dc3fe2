#!/usr/bin/env bash
# Trains for a fixed wall-clock time and leaves everything needed to go on elsewhere: for a machine lent for
# a while (a GPU for ten minutes, a preemptible node). After SECONDS the run gets SIGTERM, finishes its step
# and writes its checkpoint; then its EMA generator and discriminator are exported to EXPORT (a model folder
# that `training.train --init-from EXPORT` continues) and a sample sheet is kept in the run folder.
#   scripts/train-for.sh SECONDS RUN_DIR EXPORT [training.train arguments …]
# e.g. on a GPU, 8 minutes of a full-width 128 px network on prepared JPEGs:
#   scripts/train-for.sh 480 runs/r128 runs/r128-model --data prepared-128/ --resolution 128 --z-dim 512 \
#       --w-dim 512 --mapping-layers 2 --channel-base 16384 --channel-max 512 --steps 1000000 --device cuda
# PYTHON (default .venv/bin/python, else python3) may be set. Exits non-zero when training fails early.
set -euo pipefail
if [ $# -lt 3 ]; then
  sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
seconds=$1 run=$2 export=$3
shift 3
# Paths stay relative to where it is called from; the training package comes from this repository.
repo=$(cd "$(dirname "$0")/.." && pwd)
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
python=${PYTHON:-$( [ -x "$repo/.venv/bin/python" ] && echo "$repo/.venv/bin/python" || echo python3 )}
mkdir -p "$run"
if [ -f "$run/checkpoint.pt" ]; then
  args=(--resume "$run/checkpoint.pt" --run-dir "$run" "$@")
else
  args=(--run-dir "$run" "$@")
fi
"$python" -m training.train "${args[@]}" &
trainer=$!
end=$((SECONDS + seconds))
while kill -0 "$trainer" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 1; done
kill -TERM "$trainer" 2>/dev/null || true
status=0
wait "$trainer" || status=$?
if [ "$status" -ne 0 ] || [ ! -f "$run/checkpoint.pt" ]; then
  echo "train-for: training failed (exit $status) or wrote no checkpoint in $run" >&2
  exit 1
fi
"$python" -m training.export --checkpoint "$run/checkpoint.pt" --out "$export" --discriminator
