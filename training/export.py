"""Exports the EMA generator of a training checkpoint as a drape model folder, and with `--discriminator` the
run's discriminator beside it (float16), so that `training.train --init-from <folder>` continues with it.

    python -m training.export --checkpoint training/runs/clothing/checkpoint.pt --out models/clothing-64 [--f16]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from training.checkpoint import load_checkpoint
from training.generator import Generator
from training.model_format import DISCRIMINATOR_FILE
from training.safetensors_io import write_safetensors
from training.trainer import TrainOptions, export_model, training_facts


def export_checkpoint(checkpoint_path: Path, folder: Path, dtype: str, name: str | None = None,
                      discriminator: bool = False) -> Path:
    """Writes G_ema of the checkpoint with the run's name, description and training facts; with `discriminator`
    also its D in float16 (with its width in the metadata)."""
    state = load_checkpoint(checkpoint_path)
    options = TrainOptions.from_dict(state["options"])
    generator = Generator(options.network)
    generator.load_state_dict(state["G_ema"])
    facts = training_facts(options, state["step"], state["images_seen"], state["dataset_size"])
    folder = export_model(generator, options, facts, folder, dtype, name)
    if discriminator:
        tensors = {key: value.to(torch.float16).contiguous() for key, value in state["D"].items()}
        write_safetensors(folder / DISCRIMINATOR_FILE, tensors,
                          {"d_width": str(options.d_width), "training_steps": str(state["step"])})
    return folder


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="model folder to write")
    parser.add_argument("--f16", action="store_true", help="store float16 tensors")
    parser.add_argument("--name", default=None, help="model name (default: the run's)")
    parser.add_argument("--discriminator", action="store_true",
                        help=f"also write the run's discriminator ({DISCRIMINATOR_FILE}, float16)")
    args = parser.parse_args(argv)
    folder = export_checkpoint(args.checkpoint, args.out, "f16" if args.f16 else "f32", args.name,
                               args.discriminator)
    print(f"exported {folder}")


if __name__ == "__main__":
    main()
