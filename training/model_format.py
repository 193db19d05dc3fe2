"""drape's model format: a folder with `generator.safetensors` (canonical names, settings in metadata) and `MODEL.md`.

docs/model-format.md is the specification; this module writes and reads it.
"""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors import safe_open

from training.config import GeneratorConfig
from training.generator import Generator
from training.safetensors_io import read_safetensors, write_safetensors

WEIGHTS_FILE = "generator.safetensors"
# A shipped run's discriminator beside the generator, in float16, so that the model can be trained on without
# a fresh D (which learns slowly against a trained G).
DISCRIMINATOR_FILE = "discriminator.safetensors"
CARD_FILE = "MODEL.md"
STORAGE_DTYPES = {"f32": torch.float32, "f16": torch.float16}


def generator_tensors(generator: Generator, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The state dict under its canonical names, contiguous, on the CPU, in the storage dtype."""
    return {name: tensor.detach().to("cpu", dtype).contiguous() for name, tensor in generator.state_dict().items()}


def save_weights(generator: Generator, path: Path, dtype: str = "f32", extra_metadata: dict[str, str] | None = None) -> None:
    """Writes one `generator.safetensors`: tensors in `dtype` ("f32" or "f16"), settings plus extras in metadata."""
    metadata = generator.config.to_metadata()
    for key, value in (extra_metadata or {}).items():
        if key in metadata:
            raise ValueError(f"metadata key {key!r} is reserved for the network settings")
        metadata[key] = str(value)
    write_safetensors(path, generator_tensors(generator, STORAGE_DTYPES[dtype]), metadata)


def save_model(generator: Generator, folder: Path, card: str, dtype: str = "f32",
               extra_metadata: dict[str, str] | None = None) -> Path:
    """Writes a complete model folder: the weights file and the model card text."""
    folder = Path(folder)
    save_weights(generator, folder / WEIGHTS_FILE, dtype, extra_metadata)
    (folder / CARD_FILE).write_text(card)
    return folder


def read_metadata(path: Path) -> dict[str, str]:
    with safe_open(str(path), framework="pt") as handle:
        return dict(handle.metadata() or {})


def load_generator(path: Path, device: torch.device | str = "cpu") -> Generator:
    """Builds a float32 generator from a model folder or a `generator.safetensors` file (f32 or f16 tensors)."""
    path = Path(path)
    if path.is_dir():
        path = path / WEIGHTS_FILE
    tensors, metadata = read_safetensors(path)
    generator = Generator(GeneratorConfig.from_metadata(metadata))
    generator.load_state_dict({name: tensor.to(torch.float32) for name, tensor in tensors.items()}, strict=True)
    return generator.to(device).eval().requires_grad_(False)
