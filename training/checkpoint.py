"""Training checkpoints: one file with the networks, optimizers, EMA, data sampler, RNG states and counters."""

from __future__ import annotations

from pathlib import Path

import torch

CHECKPOINT_FILE = "checkpoint.pt"


def rng_states() -> dict:
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def restore_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save_checkpoint(state: dict, path: Path) -> None:
    """Writes atomically (temporary file, then rename), so a crash never leaves a half-written checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial_path = path.with_name(path.name + ".partial")
    torch.save(state, partial_path)
    partial_path.replace(path)


def load_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)
