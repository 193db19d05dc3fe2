#!/usr/bin/env bash
# Runs every check and test: formatting, lints, the Rust workspace (GPU tests on the software Vulkan
# driver where no GPU is present, batch tests on a one-node Slurm cluster it starts) and the Python
# reference/training tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"
# tests/slurm.rs submits a job array to a real cluster: one node on this machine (needs root or sudo).
if [ "$(id -u)" = 0 ]; then bash scripts/slurm-local.sh; else sudo bash scripts/slurm-local.sh; fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
.venv/bin/python -m pytest -q training/tests
