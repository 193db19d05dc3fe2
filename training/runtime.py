"""Process set-up for fast PyTorch on these CPUs (denormals, glibc malloc tuning) and device selection."""

from __future__ import annotations

import os
import sys

import torch

MALLOC_TUNING = {
    "MALLOC_ARENA_MAX": "2",
    "MALLOC_TRIM_THRESHOLD_": str(1 << 30),
    "MALLOC_TOP_PAD_": str(1 << 28),
    "MALLOC_MMAP_THRESHOLD_": str(1 << 25),
}


def ensure_malloc_tuning(module: str) -> None:
    """glibc reads its malloc settings only at start-up, so restart `python -m module` once with them set.

    Without them the allocator returns freed tensor memory to the OS and a third of the CPU time goes to
    page faults. Set DRAPE_NO_MALLOC_TUNING=1 to skip the restart.
    """
    if os.environ.get("DRAPE_NO_MALLOC_TUNING") or all(os.environ.get(k) == v for k, v in MALLOC_TUNING.items()):
        return
    env = {**os.environ, **MALLOC_TUNING}
    os.execve(sys.executable, [sys.executable, "-m", module, *sys.argv[1:]], env)


def select_device(requested: str | None) -> torch.device:
    """The requested device, or CUDA when present and the CPU otherwise."""
    if requested:
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def configure_torch(device: torch.device) -> None:
    """Flushes denormals on the CPU (large speed-ups for small weights) and lets cuDNN pick fast kernels."""
    torch.set_flush_denormal(True)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
