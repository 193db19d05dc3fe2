#!/usr/bin/env bash
# Runs every check and test: formatting, lints, the Rust workspace (GPU tests on the software Vulkan
# driver where no GPU is present) and the Python reference/training tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
chmod 700 "$XDG_RUNTIME_DIR"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
.venv/bin/python -m pytest -q training/tests
