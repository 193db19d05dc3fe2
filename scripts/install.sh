#!/usr/bin/env bash
# Installs drape and what it needs on a Debian/Ubuntu machine.
#   scripts/install.sh         system packages (software Vulkan driver) + the `drape` binary
#   scripts/install.sh --dev   also the Python environment for training/ and its tests (.venv, the
#                              tested versions of training/requirements.lock) and Chromium for the
#                              preview page's tests
#   scripts/install.sh --dev --cpu   the same with PyTorch's CPU-only wheel (requirements-cpu.lock): no
#                              CUDA libraries, for machines without an NVIDIA GPU
set -euo pipefail
cd "$(dirname "$0")/.."
dev=false
lock=training/requirements.lock
for arg in "$@"; do
  case "$arg" in
    --dev) dev=true ;;
    --cpu) lock=training/requirements-cpu.lock ;;
    *) echo "usage: scripts/install.sh [--dev [--cpu]]" >&2; exit 2 ;;
  esac
done

sudo_if_needed() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# wgpu loads Vulkan at run time; lavapipe (mesa-vulkan-drivers) is the fallback where no GPU driver is installed.
if command -v apt-get >/dev/null && ! dpkg -s mesa-vulkan-drivers >/dev/null 2>&1; then
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mesa-vulkan-drivers
fi

if $dev; then
  # The preview page's tests drive a headless Chromium.
  if command -v apt-get >/dev/null && ! dpkg -s chromium >/dev/null 2>&1; then
    sudo_if_needed apt-get update -qq
    sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium
  fi
  if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
  fi
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r "$lock"
else
  cargo install --locked --path . --quiet
fi
